import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { parse, type GraphQLSchema } from 'graphql';
import { buildSchema, createResolversMap, type NonEmptyArray } from 'type-graphql';

/** The Federation 2 spec version every Saldo subgraph links. */
export const FEDERATION_VERSION = 'v2.7';
const FEDERATION_IMPORTS = ['@key', '@shareable', '@external', '@requires', '@provides', '@inaccessible', '@tag'];

// Reference resolvers receive the representation, the request context and resolve info; each subgraph types its own.
export type ReferenceResolver = (...args: never[]) => unknown;

export interface SubgraphSchemaOptions {
  // type-graphql resolver classes; each class is a constructor, so `Function` is the honest type here.
  resolvers: NonEmptyArray<Function>;
  /** Types not reachable from a root field but part of the graph, e.g. entity stubs. */
  orphanedTypes?: Function[];
  /** __resolveReference per entity type name. */
  referenceResolvers?: Record<string, ReferenceResolver>;
}

export interface SubgraphSchema {
  schema: GraphQLSchema;
  /** The subgraph SDL with federation directives, as checked in under schema/. */
  sdl: string;
}

/**
 * Builds a Federation 2 subgraph from type-graphql classes: type-graphql produces the schema
 * (directives recorded on AST nodes), we print it with directives, link the federation spec,
 * and hand SDL + type-graphql's resolvers (+ reference resolvers) to @apollo/subgraph.
 */
export async function buildFederatedSchema(options: SubgraphSchemaOptions): Promise<SubgraphSchema> {
  const codeFirst = await buildSchema({
    resolvers: options.resolvers,
    orphanedTypes: options.orphanedTypes ?? [],
    skipCheck: true,
    validate: false,
  });
  const imports = FEDERATION_IMPORTS.map((name) => `"${name}"`).join(', ');
  const sdl =
    `extend schema @link(url: "https://specs.apollo.dev/federation/${FEDERATION_VERSION}", import: [${imports}])\n\n` +
    printSchemaWithDirectives(codeFirst).trim() +
    '\n';

  const resolvers = createResolversMap(codeFirst) as Record<string, Record<string, unknown>>;
  for (const [typeName, resolveReference] of Object.entries(options.referenceResolvers ?? {})) {
    resolvers[typeName] = { ...(resolvers[typeName] ?? {}), __resolveReference: resolveReference };
  }
  const schema = buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers: resolvers as never }]);
  return { schema, sdl };
}
