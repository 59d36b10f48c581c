import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import type { Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, type IdentitySigner } from '@saldo/identity';

type SubgraphFetcher = NonNullable<ConstructorParameters<typeof RemoteGraphQLDataSource>[0]>['fetcher'];

/**
 * Sends each subgraph request with the caller's identity, signed by the gateway and valid for seconds,
 * so subgraphs enforce scope themselves and refuse anything that did not come through here.
 */
export class IdentityForwardingDataSource extends RemoteGraphQLDataSource<{ identity?: Identity }> {
  constructor(url: string, private readonly signer: IdentitySigner) {
    // Node's own fetch (undici, keep-alive pool) instead of the default make-fetch-happen, whose
    // HTTP-cache machinery costs more per subgraph call than the call itself.
    super({ url, fetcher: fetch as unknown as SubgraphFetcher });
  }

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<{ identity?: Identity }>): Promise<void> {
    request.http?.headers.set(IDENTITY_HEADER, await this.signer.sign(context.identity ?? { role: 'anonymous' }));
  }
}
