import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { parse, type GraphQLSchema } from 'graphql';
import { buildSchema, createResolversMap, getMetadataStorage, type NonEmptyArray, type PubSub } from 'type-graphql';

/** The Federation 2 spec version every Saldo subgraph links (2.9: demand control's @cost and @listSize). */
export const FEDERATION_VERSION = 'v2.9';
const FEDERATION_IMPORTS = ['@key', '@shareable', '@external', '@requires', '@provides', '@inaccessible', '@tag', '@cost', '@listSize'];

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
 * type-graphql insists on a PubSub as soon as a schema has @Subscription fields, even when each field brings its own
 * `subscribe` function (Saldo's do: they read from the subgraph's event feeds). This one refuses to be used.
 */
const NO_PUB_SUB: PubSub = {
  publish() {
    throw new Error('Saldo subscriptions publish through their own feeds: give @Subscription a `subscribe` function');
  },
  subscribe() {
    throw new Error('Saldo subscriptions need a `subscribe` function on @Subscription (topics are not supported)');
  },
};

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
    pubSub: NO_PUB_SUB,
  });
  const imports = FEDERATION_IMPORTS.map((name) => `"${name}"`).join(', ');
  const sdl =
    `extend schema @link(url: "https://specs.apollo.dev/federation/${FEDERATION_VERSION}", import: [${imports}])\n\n` +
    printSchemaWithDirectives(codeFirst).trim() +
    '\n';

  const resolvers = withoutPlainFieldResolvers(createResolversMap(codeFirst) as Record<string, Record<string, unknown>>, options.resolvers);
  for (const [typeName, resolveReference] of Object.entries(options.referenceResolvers ?? {})) {
    resolvers[typeName] = { ...(resolvers[typeName] ?? {}), __resolveReference: resolveReference };
  }
  const schema = buildSubgraphSchema([{ typeDefs: parse(sdl), resolvers: resolvers as never }]);
  return { schema, sdl };
}

const ROOT_TYPES = new Set(['Query', 'Mutation', 'Subscription']);

/**
 * type-graphql gives every field a resolver that runs its middleware machinery, even fields that only read a
 * property. Per entity and field that is measurable at gateway rates, so keep resolvers only for root fields,
 * @FieldResolver methods, and non-object types (scalars, enums); plain fields use GraphQL's default resolver.
 */
function withoutPlainFieldResolvers(
  map: Record<string, Record<string, unknown>>,
  resolverClasses: readonly Function[],
): Record<string, Record<string, unknown>> {
  const storage = getMetadataStorage() as unknown as {
    resolverClasses: Array<{ target: Function; getObjectType?: () => Function }>;
    objectTypes: Array<{ target: Function; name: string }>;
    fieldResolvers: Array<{ target: Function; schemaName: string }>;
  };
  const explicit = new Set<string>();
  for (const fieldResolver of storage.fieldResolvers) {
    if (!resolverClasses.includes(fieldResolver.target)) continue;
    const typeClass = storage.resolverClasses.find((resolver) => resolver.target === fieldResolver.target)?.getObjectType?.();
    const typeName = storage.objectTypes.find((objectType) => objectType.target === typeClass)?.name;
    if (typeName) explicit.add(`${typeName}.${fieldResolver.schemaName}`);
  }
  const objectTypeNames = new Set(storage.objectTypes.map((objectType) => objectType.name));
  const result: Record<string, Record<string, unknown>> = {};
  for (const [typeName, fields] of Object.entries(map)) {
    if (ROOT_TYPES.has(typeName) || !objectTypeNames.has(typeName)) {
      result[typeName] = fields;
      continue;
    }
    const kept = Object.fromEntries(Object.entries(fields).filter(([field]) => explicit.has(`${typeName}.${field}`)));
    if (Object.keys(kept).length > 0) result[typeName] = kept;
  }
  return result;
}
