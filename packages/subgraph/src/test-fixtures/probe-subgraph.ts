// The smallest subgraph the runtime tests host: one shard schema without tables and a graph of `Query.ok`, so that what a
// test looks at (jobs, schedules, outbox retention) is all the runtime does. Test code only (imported by *.test.ts).
import { GraphQLBoolean, GraphQLObjectType, GraphQLSchema } from 'graphql';
import type { SubgraphConfig } from '../config.js';
import type { SubgraphDefinition } from '../service.js';

/** A `probe` subgraph; `overrides` adds what the test exercises (jobs, services). */
export function probeSubgraph<S extends object = object, C extends SubgraphConfig = SubgraphConfig>(
  overrides: Partial<SubgraphDefinition<S, C>> & Pick<SubgraphDefinition<S, C>, 'createServices'>,
): SubgraphDefinition<S, C> {
  return {
    name: 'probe',
    shardSchema: { shard: { entities: [], migrations: [] } },
    buildSchema: async () => ({
      schema: new GraphQLSchema({ query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLBoolean, resolve: () => true } } }) }),
      sdl: 'type Query { ok: Boolean }',
    }),
    ...overrides,
  };
}
