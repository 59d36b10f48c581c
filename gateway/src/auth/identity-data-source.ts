import { RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { GraphQLError } from 'graphql';
import { ErrorCode, type Identity } from '@saldo/graphql';
import { IDENTITY_HEADER, type IdentitySigner } from '@saldo/identity';
import type { SubgraphQueryDedup } from '../dedup/index.js';
import { subgraphFetcher, type SubgraphHttpClient } from './subgraph-http.js';

type SubgraphRequest = GraphQLDataSourceProcessOptions['request'];
type SubgraphResponse = Awaited<ReturnType<RemoteGraphQLDataSource['process']>>;

/**
 * Sends each subgraph request with the caller's identity, signed by the gateway and valid for seconds,
 * so subgraphs enforce scope themselves and refuse anything that did not come through here.
 */
export class IdentityForwardingDataSource extends RemoteGraphQLDataSource<{ identity?: Identity }> {
  constructor(
    url: string,
    private readonly signer: IdentitySigner,
    http: SubgraphHttpClient,
    dedup?: SubgraphQueryDedup,
  ) {
    // A lean keep-alive node:http client instead of the default make-fetch-happen (whose HTTP-cache machinery
    // costs more per subgraph call than the call itself) or WHATWG fetch (see SubgraphHttpClient). With `dedup`,
    // identical queries in flight (same identity header, so the same scope) share one request.
    super({ url, fetcher: subgraphFetcher(http, dedup) });
    // Replaces the base class's private sendRequest (called by process() as `this.sendRequest`): the same steps
    // without the node-fetch Request it builds on every subgraph call only to hand to parseBody and
    // didEncounterError, which do not read it here (its URL parsing alone was ~5 % of the gateway's CPU per query).
    (this as unknown as { sendRequest: IdentityForwardingDataSource['sendWithoutFetchRequest'] }).sendRequest = this.sendWithoutFetchRequest;
  }

  /** RemoteGraphQLDataSource.sendRequest (@apollo/gateway 2.x) minus the unused node-fetch Request. */
  private readonly sendWithoutFetchRequest = async (request: SubgraphRequest, context: { identity?: Identity }): Promise<SubgraphResponse> => {
    if (!request.http) throw new Error("Internal error: Only 'http' requests are supported.");
    const { http, ...requestWithoutHttp } = request;
    const response = await this.fetcher(http.url, {
      method: http.method,
      headers: Object.fromEntries(http.headers),
      body: JSON.stringify(requestWithoutHttp),
    });
    if (!response.ok) throw await this.errorFromResponse(response);
    const body = await this.parseBody(response, undefined, context);
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw new Error(`Expected JSON response body, but received: ${String(body)}`);
    return { ...body, http: response } as SubgraphResponse;
  };

  override async willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<{ identity?: Identity }>): Promise<void> {
    request.http?.headers.set(IDENTITY_HEADER, await this.signer.sign(context.identity ?? { role: 'anonymous' }));
  }

  /**
   * A subgraph's non-2xx answer. Apollo's default puts the subgraph's URL and raw response in the error's extensions
   * (clients would see them); instead, the subgraph's own error passes when it has a code (a variable a custom scalar
   * refused is BAD_USER_INPUT at the subgraph), and anything else is an opaque INTERNAL_SERVER_ERROR.
   */
  override async errorFromResponse(response: Parameters<RemoteGraphQLDataSource['errorFromResponse']>[0]): Promise<GraphQLError> {
    let body: unknown;
    try {
      body = await response.json();
    } catch {
      body = undefined;
    }
    const first = (body as { errors?: Array<{ message?: unknown; extensions?: { code?: unknown } }> } | undefined)?.errors?.[0];
    const code = first?.extensions?.code;
    if (typeof code === 'string' && typeof first?.message === 'string' && code !== ErrorCode.Internal) {
      return new GraphQLError(first.message, { extensions: { code } });
    }
    if (response.status === 401) return new GraphQLError("A subgraph refused the gateway's identity.", { extensions: { code: ErrorCode.Internal } });
    return new GraphQLError('Internal server error', { extensions: { code: ErrorCode.Internal } });
  }
}
