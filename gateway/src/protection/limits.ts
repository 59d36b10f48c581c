import type { ApolloServerPlugin, BaseContext } from '@apollo/server';
import {
  GraphQLError,
  GraphQLIncludeDirective,
  GraphQLSkipDirective,
  SchemaMetaFieldDef,
  TypeMetaFieldDef,
  TypeNameMetaFieldDef,
  getDirectiveValues,
  getNamedType,
  getNullableType,
  getOperationAST,
  getVariableValues,
  isCompositeType,
  isInputObjectType,
  isIntrospectionType,
  isInterfaceType,
  isListType,
  isObjectType,
  valueFromAST,
  type ArgumentNode,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLArgument,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';
import { actualCost } from './actual-cost.js';
import { NO_COST_DIRECTIVES, type CostDirectives, type FieldCostDirectives } from './cost-directives.js';
import { MUTATION_BASE_COST, inputCost } from './cost-units.js';

export { MUTATION_BASE_COST };

/**
 * Static limits on an operation, checked after it is parsed and validated and before anything is planned
 * or sent to a subgraph.
 *
 * Measures (fragments expanded, @skip/@include honoured with the request's variables):
 *
 * - depth: the deepest nesting of selection sets. `{ a }` is 1, `{ a { b } }` is 2. Fragment spreads and
 *   inline fragments add no level of their own. Introspection fields count like any other field, so the
 *   standard introspection query (graphql-js getIntrospectionQuery, what Sandbox and codegen send) measures 15.
 * - aliases: every aliased field, counted as often as it is executed: an aliased field in a fragment that is
 *   spread three times counts three times (so fragments cannot hide aliases).
 * - mutations: root fields of a mutation operation, aliases included (each runs, one after the other).
 * - cost: demand control in the spirit of Federation's `@cost` / `@listSize` (IBM's GraphQL cost spec): an estimate
 *   of the objects the subgraphs would produce and the input they would process.
 *
 *   - A field returning an object, interface or union costs 1 per object; a scalar or enum field costs 0. `@cost(weight)`
 *     on the field (or on its type) replaces that weight.
 *   - A list field costs its size times the weight of its elements, and multiplies everything selected below it by its
 *     size. The size, in order:
 *     1. `@listSize(slicingArguments: [...])`: the largest value the request gives those arguments (or their schema
 *        defaults), e.g. `usage(days: 366)` is 366 days;
 *     2. `@listSize(assumedSize: n)`: n;
 *     3. without @listSize, a `first`, `last` or `limit` argument (the pagination convention);
 *     4. otherwise the default: 20 for a connection (an object type named `…Connection`: the platform's page size) and
 *        10 for any other list (`defaultListSize`).
 *   - A connection is sized on its `edges` and `nodes` (or the `@listSize(sizedFields)` it names): the connection
 *     object and its `pageInfo` count once, each edge and node once per element.
 *   - A mutation's root field costs 10 more (it writes), and input counts: every input object and every list element
 *     in a field's arguments costs 1 (so 1,000 usage events cost 1,000), multiplied like the field.
 *   - Introspection (`__schema`, `__type` and their types) has no list multipliers: the gateway answers it from memory
 *     and its sizes are fixed by the schema; graphql-js's MaxIntrospectionDepthRule refuses recursive nesting.
 *
 *   Example: `{ partners(first: 10) { edges { node { id tenants(first: 5) { edges { node { id } } } } } } }` costs
 *   partners 1 + edges 10 + node 10 + tenants 10 + edges 50 + node 50 = 131.
 *
 * Cost is computed in floating point and reported clamped to Number.MAX_SAFE_INTEGER, so a fragment bomb
 * that would overflow still measures (and is refused) rather than failing.
 */
export interface OperationMetrics {
  depth: number;
  aliases: number;
  mutations: number;
  cost: number;
}

export interface AnalyzeOptions {
  /** The operation to measure when the document holds several; ignored when `operation` is given. */
  operationName?: string | null;
  /** The operation node, when the caller already resolved it. */
  operation?: OperationDefinitionNode;
  /** The request's raw variables (coerced here against the operation's variable definitions). */
  variables?: Record<string, unknown> | null;
  /** `@cost` / `@listSize` of the schema (the supergraph's: Apollo's API schema drops them). */
  directives?: CostDirectives;
  /** Size assumed for a plain list with nothing else to go by (default DEFAULT_LIST_SIZE). */
  defaultListSize?: number;
}

/** Page size assumed for a connection queried without a page-size argument (the platform's default page). */
export const DEFAULT_PAGE_SIZE = 20;
/** Size assumed for a plain list field with neither @listSize nor a pagination argument. */
export const DEFAULT_LIST_SIZE = 10;
/** Kept for callers of the first cost model: a connection's assumed page. */
export const DEFAULT_LIST_MULTIPLIER = DEFAULT_PAGE_SIZE;

/** Pagination arguments that size a list field without @listSize. */
const PAGINATION_ARGUMENTS = ['first', 'last', 'limit'];
/** The fields of a connection its size applies to, without @listSize(sizedFields). */
const CONNECTION_SIZED_FIELDS = ['edges', 'nodes'];

const ZERO: OperationMetrics = { depth: 0, aliases: 0, mutations: 0, cost: 0 };

/**
 * Measures one operation of a parsed, validated document against `schema`. Linear in the document's size:
 * each fragment is measured once per sizing context (cost is linear in the multiplier, so a fragment's relative cost is
 * reused wherever it is spread). An operation that is not in the document measures zero.
 */
export function analyzeOperation(schema: GraphQLSchema, document: DocumentNode, options: AnalyzeOptions = {}): OperationMetrics {
  const operation = options.operation ?? getOperationAST(document, options.operationName ?? undefined);
  if (!operation) return { ...ZERO };
  const directives = options.directives ?? NO_COST_DIRECTIVES;
  const defaultListSize = options.defaultListSize ?? DEFAULT_LIST_SIZE;

  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], options.variables ?? {});
  // Variables that do not coerce fail execution anyway; measure as though they were absent.
  const variables: Record<string, unknown> = 'coerced' in coerced && coerced.coerced ? coerced.coerced : {};

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === 'FragmentDefinition') fragments.set(definition.name.value, definition);
  }
  const measuredFragments = new Map<string, OperationMetrics>();
  const inProgress = new Set<string>();
  const mutationRoot = operation.operation === 'mutation' ? schema.getMutationType() : undefined;

  const included = (node: { directives?: FieldNode['directives'] }): boolean => {
    if (!node.directives || node.directives.length === 0) return true;
    try {
      if (getDirectiveValues(GraphQLSkipDirective, node, variables)?.['if'] === true) return false;
      if (getDirectiveValues(GraphQLIncludeDirective, node, variables)?.['if'] === false) return false;
    } catch {
      // An unusable condition fails execution anyway; count the selection (the upper bound).
    }
    return true;
  };

  const fieldDefinition = (parent: GraphQLNamedType | undefined, node: FieldNode): GraphQLField<unknown, unknown> | undefined => {
    const name = node.name.value;
    if (name === TypeNameMetaFieldDef.name) return TypeNameMetaFieldDef;
    if (parent === schema.getQueryType()) {
      if (name === SchemaMetaFieldDef.name) return SchemaMetaFieldDef;
      if (name === TypeMetaFieldDef.name) return TypeMetaFieldDef;
    }
    if (parent && (isObjectType(parent) || isInterfaceType(parent))) return parent.getFields()[name];
    return undefined;
  };

  /** The value the request gives a field argument (literal, variable, or the argument's default), if numeric. */
  const numericArgument = (definition: GraphQLField<unknown, unknown>, node: FieldNode, name: string): number | undefined => {
    const argument = definition.args.find((candidate) => candidate.name === name);
    if (!argument) return undefined;
    const given = node.arguments?.find((candidate) => candidate.name.value === name);
    const value = given ? valueFromAST(given.value, argument.type, variables) : argument.defaultValue;
    return typeof value === 'number' && Number.isFinite(value) ? Math.max(0, Math.floor(value)) : undefined;
  };

  /** The size a list (or connection) field declares for this request; undefined when nothing says. */
  const declaredSize = (definition: GraphQLField<unknown, unknown>, node: FieldNode, costs: FieldCostDirectives | undefined): number | undefined => {
    const listSize = costs?.listSize;
    const slicing = listSize ? (listSize.slicingArguments ?? []) : PAGINATION_ARGUMENTS;
    let size: number | undefined;
    for (const name of slicing) {
      const value = numericArgument(definition, node, name);
      if (value !== undefined) size = Math.max(size ?? 0, value);
    }
    return size ?? listSize?.assumedSize;
  };

  /** Input size of a field's arguments: every input object and list element costs 1. */
  const argumentsCost = (definition: GraphQLField<unknown, unknown>, nodes: readonly ArgumentNode[]): number => {
    let cost = 0;
    for (const node of nodes) {
      const argument: GraphQLArgument | undefined = definition.args.find((candidate) => candidate.name === node.name.value);
      if (!argument) continue;
      const named = getNamedType(argument.type);
      if (!isInputObjectType(named) && !isListType(getNullableType(argument.type))) continue;
      cost += inputCost(valueFromAST(node.value, argument.type, variables));
    }
    return cost;
  };

  /**
   * Metrics of a selection set relative to its own level: cost as if the enclosing multiplier were 1. `sized` gives the
   * size of list fields of this level sized by their parent (a connection's edges).
   */
  const measure = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined, sized: ReadonlyMap<string, number> | undefined): OperationMetrics => {
    const total: OperationMetrics = { depth: 0, aliases: 0, mutations: 0, cost: 0 };
    const add = (inner: OperationMetrics, depthOffset: number, costFactor: number): void => {
      total.depth = Math.max(total.depth, inner.depth + depthOffset);
      total.aliases += inner.aliases;
      total.mutations += inner.mutations;
      total.cost += inner.cost * costFactor;
    };
    const introspection = parent !== undefined && isIntrospectionType(parent);
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      switch (selection.kind) {
        case 'Field': {
          const definition = fieldDefinition(parent, selection);
          total.depth = Math.max(total.depth, 1);
          if (selection.alias) total.aliases += 1;
          if (!definition) break;
          const named = getNamedType(definition.type);
          const meta = introspection || definition.name.startsWith('__');
          const costs = parent && !meta ? directives.field(parent.name, definition.name) : undefined;
          const weight = costs?.weight ?? directives.typeWeight(named.name) ?? (isCompositeType(named) ? 1 : 0);
          const list = isListType(getNullableType(definition.type));
          // Sizing: a list's own size multiplies it and its selections; a connection passes its size to its sized fields.
          let size = 1;
          let childSized: Map<string, number> | undefined;
          if (!meta) {
            const declared = declaredSize(definition, selection, costs);
            const sizedFields = costs?.listSize?.sizedFields ?? (isConnection(named) && !list ? CONNECTION_SIZED_FIELDS : undefined);
            if (sizedFields) {
              const connectionSize = declared ?? DEFAULT_PAGE_SIZE;
              childSized = new Map(sizedFields.map((name) => [name, connectionSize]));
            } else if (list) {
              size = sized?.get(definition.name) ?? declared ?? (isConnection(named) ? DEFAULT_PAGE_SIZE : defaultListSize);
            }
          }
          total.cost += weight * size;
          if (mutationRoot && parent === mutationRoot) {
            total.mutations += 1;
            total.cost += MUTATION_BASE_COST;
          }
          if (selection.arguments && selection.arguments.length > 0) total.cost += argumentsCost(definition, selection.arguments);
          if (selection.selectionSet) add(measure(selection.selectionSet, named, childSized), 1, size);
          break;
        }
        case 'InlineFragment': {
          const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          add(measure(selection.selectionSet, condition ?? undefined, sized), 0, 1);
          break;
        }
        case 'FragmentSpread': {
          add(measureFragment(selection.name.value, sized), 0, 1);
          break;
        }
      }
    }
    return total;
  };

  const measureFragment = (name: string, sized: ReadonlyMap<string, number> | undefined): OperationMetrics => {
    const key = sized && sized.size > 0 ? `${name}|${JSON.stringify([...sized])}` : name;
    const known = measuredFragments.get(key);
    if (known) return known;
    const fragment = fragments.get(name);
    // Unknown or cyclic fragments fail validation; measure them as empty rather than loop.
    if (!fragment || inProgress.has(name)) return ZERO;
    inProgress.add(name);
    const metrics = measure(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? undefined, sized);
    inProgress.delete(name);
    measuredFragments.set(key, metrics);
    return metrics;
  };

  const root = schema.getRootType(operation.operation) ?? undefined;
  const metrics = measure(operation.selectionSet, root, undefined);
  return { ...metrics, cost: Math.min(Math.ceil(metrics.cost), Number.MAX_SAFE_INTEGER) };
}

function isConnection(type: GraphQLNamedType): boolean {
  return isObjectType(type) && type.name.endsWith('Connection');
}

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
  /** Root fields of one mutation operation (aliases included); unlimited when absent. */
  maxMutations?: number;
}

export const LimitErrorCode = {
  QueryTooDeep: 'QUERY_TOO_DEEP',
  TooManyAliases: 'TOO_MANY_ALIASES',
  TooManyMutations: 'TOO_MANY_MUTATIONS',
  QueryTooCostly: 'QUERY_TOO_COSTLY',
} as const;
export type LimitErrorCode = (typeof LimitErrorCode)[keyof typeof LimitErrorCode];

/** The first limit `metrics` exceed (depth, aliases, mutations, then cost) as a 400 error; undefined when within all. */
export function checkLimits(metrics: OperationMetrics, limits: QueryLimits): GraphQLError | undefined {
  if (metrics.depth > limits.maxDepth) {
    return limitError(LimitErrorCode.QueryTooDeep, `Query depth ${metrics.depth} exceeds the maximum of ${limits.maxDepth}.`, limits.maxDepth, metrics.depth);
  }
  if (metrics.aliases > limits.maxAliases) {
    return limitError(
      LimitErrorCode.TooManyAliases,
      `Query uses ${metrics.aliases} aliases; the maximum is ${limits.maxAliases}.`,
      limits.maxAliases,
      metrics.aliases,
    );
  }
  if (limits.maxMutations !== undefined && metrics.mutations > limits.maxMutations) {
    return limitError(
      LimitErrorCode.TooManyMutations,
      `The operation runs ${metrics.mutations} mutation fields; the maximum is ${limits.maxMutations} (send the rest in another request).`,
      limits.maxMutations,
      metrics.mutations,
    );
  }
  if (metrics.cost > limits.maxCost) {
    return limitError(
      LimitErrorCode.QueryTooCostly,
      `Query's estimated cost ${metrics.cost} exceeds the maximum of ${limits.maxCost}; request smaller pages or lists, or fewer nested lists.`,
      limits.maxCost,
      metrics.cost,
    );
  }
  return undefined;
}

function limitError(code: LimitErrorCode, message: string, limit: number, measured: number): GraphQLError {
  return new GraphQLError(message, { extensions: { code, limit, measured, http: { status: 400 } } });
}

export interface LimitsPluginOptions {
  /** The schema's `@cost` / `@listSize`, current for the schema being served (it changes when the supergraph does). */
  directives?: () => CostDirectives;
  /** Size assumed for a plain list with nothing else to go by. */
  defaultListSize?: number;
}

/** Request extension asking for the operation's cost in the response: `"extensions": { "cost": true }`. */
export const COST_EXTENSION = 'cost';

/**
 * Apollo Server plugin refusing operations over the limits in `didResolveOperation`, i.e. after parsing and
 * validation and before the gateway plans the query, so nothing reaches a subgraph. The refusal is a
 * GraphQLError with extensions { code, limit, measured } and HTTP status 400.
 *
 * A request with `"extensions": { "cost": true }` gets `extensions.cost` = { estimated, actual, limit } in its response:
 * the estimate it was admitted with, and the same measure applied to the data it got (objects and list elements that
 * came back, input as sent).
 */
export function createLimitsPlugin<TContext extends BaseContext = BaseContext>(
  limits: QueryLimits,
  options: LimitsPluginOptions = {},
): ApolloServerPlugin<TContext> {
  for (const [name, value] of Object.entries(limits)) {
    if (value !== undefined && (!Number.isFinite(value) || value < 0)) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  }
  return {
    async requestDidStart({ request }) {
      const wantsCost = request.extensions?.[COST_EXTENSION] === true;
      let estimated: number | undefined;
      const directives = options.directives?.() ?? NO_COST_DIRECTIVES;
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          const metrics = analyzeOperation(schema, document, {
            operation,
            operationName: request.operationName ?? null,
            variables: request.variables ?? {},
            directives,
            ...(options.defaultListSize === undefined ? {} : { defaultListSize: options.defaultListSize }),
          });
          estimated = metrics.cost;
          const error = checkLimits(metrics, limits);
          if (error) throw error;
        },
        async willSendResponse({ response, schema, document, operation, request }) {
          if (!wantsCost || estimated === undefined || response.body.kind !== 'single' || !document || !operation) return;
          const result = response.body.singleResult;
          const actual = actualCost(schema, document, operation, {
            variables: request.variables ?? {},
            data: result.data ?? null,
            directives,
          });
          result.extensions = { ...result.extensions, [COST_EXTENSION]: { estimated, actual, limit: limits.maxCost } };
        },
      };
    },
  };
}
