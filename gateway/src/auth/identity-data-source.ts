import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, type IdentitySigner } from '@saldo/identity';
import type { SubgraphQueryDedup } from '../dedup/index.js';
import { subgraphFetcher, type SubgraphHttpClient } from './subgraph-http.js';

/**
 * Sends each subgraph request with the caller's identity, signed by the gateway and valid for seconds,
 * so subgraphs enforce scope themselves and refuse anything that did not come through here.
 */
export class IdentityForwardingDataSource extends RemoteGraphQLDataSource<{ identity?: Identity }> {
  constructor(url: string, private readonly signer: IdentitySigner, http: SubgraphHttpClient, dedup?: SubgraphQueryDedup) {
    // A lean keep-alive node:http client instead of the default make-fetch-happen (whose HTTP-cache machinery
    // costs more per subgraph call than the call itself) or WHATWG fetch (see SubgraphHttpClient). With `dedup`,
    // identical queries in flight (same identity header, so the same scope) share one request.
    super({ url, fetcher: subgraphFetcher(http, dedup) });
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<{ identity?: Identity }>): Promise<void> {
    request.http?.headers.set(IDENTITY_HEADER, await this.signer.sign(context.identity ?? { role: 'anonymous' }));
  }
}
