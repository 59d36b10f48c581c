import { readFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { ApolloGateway, RemoteGraphQLDataSource, type GraphQLDataSourceProcessOptions } from '@apollo/gateway';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';

// gateway-compare's plain @apollo/gateway: Apollo Server's standalone HTTP server in front of the supergraph, forwarding
// the client's pre-signed x-saldo-identity to every subgraph (no authentication of its own). Its own process.
const { values } = parseArgs({ options: { supergraph: { type: 'string' }, port: { type: 'string' } } });
interface Context {
  identity: string | undefined;
}

class ForwardIdentity extends RemoteGraphQLDataSource<Context> {
  override willSendRequest({ request, context }: GraphQLDataSourceProcessOptions<Context>): void {
    const identity = (context as Partial<Context>).identity;
    if (identity) request.http?.headers.set('x-saldo-identity', identity);
  }
}

const server = new ApolloServer<Context>({
  gateway: new ApolloGateway({ supergraphSdl: await readFile(values.supergraph!, 'utf8'), buildService: ({ url }) => new ForwardIdentity({ url }) }),
});
const { url } = await startStandaloneServer(server, {
  listen: { port: Number(values.port), host: '127.0.0.1' },
  context: async ({ req }) => ({ identity: typeof req.headers['x-saldo-identity'] === 'string' ? req.headers['x-saldo-identity'] : undefined }),
});
process.stdout.write(`apollo gateway at ${url}\n`);
const stop = (): void => {
  server.stop().then(
    () => process.exit(0),
    () => process.exit(1),
  );
};
process.once('SIGTERM', stop);
process.once('SIGINT', stop);
