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
  isIntrospectionType,
  isInterfaceType,
  isListType,
  isObjectType,
  valueFromAST,
  type DocumentNode,
  type FieldNode,
  type FragmentDefinitionNode,
  type GraphQLField,
  type GraphQLNamedType,
  type GraphQLSchema,
  type OperationDefinitionNode,
  type SelectionSetNode,
} from 'graphql';

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
 * - cost: an estimate of the objects the gateway and subgraphs would produce. Every field costs 1, multiplied
 *   by the product of the list multipliers of its ancestors:
 *
 *     cost(field) = 1 × multiplier(parent) × multiplier(grandparent) × ...
 *
 *   A field's multiplier (applied to its children, never to itself):
 *   - its `first` argument, when the field declares one and the request gives it a value (literal, or a
 *     variable's value or default); negative values count as 0;
 *   - otherwise 20 (the platform's default page size) when the field returns a list or a connection
 *     (an object type named `…Connection`);
 *   - otherwise 1.
 *   Two refinements keep the estimate honest rather than squared:
 *   - a list field *of a connection type* (`edges`, `nodes`) has multiplier 1: its length is the page the
 *     connection field already paid for;
 *   - fields of introspection types (`__Schema`, `__Type`, ...) have multiplier 1: the gateway answers them
 *     from its in-memory schema, never from a subgraph, and their list sizes are fixed by the schema, not
 *     by the client. Their fields still cost 1 each (so fragment bombs on introspection are still caught),
 *     and graphql-js's MaxIntrospectionDepthRule (in the default validation rules) already refuses
 *     recursive `fields { type { fields ... } }` nesting.
 *
 *   Example: `{ partners(first: 10) { edges { node { id tenants(first: 5) { edges { node { id } } } } } } }`
 *   costs partners 1 + edges 10 + node 10 + id 10 + tenants 10 + edges 50 + node 50 + id 50 = 191.
 *
 * Cost is computed in floating point and reported clamped to Number.MAX_SAFE_INTEGER, so a fragment bomb
 * that would overflow still measures (and is refused) rather than failing.
 */
export interface OperationMetrics {
  depth: number;
  aliases: number;
  cost: number;
}

export interface AnalyzeOptions {
  /** The operation to measure when the document holds several; ignored when `operation` is given. */
  operationName?: string | null;
  /** The operation node, when the caller already resolved it. */
  operation?: OperationDefinitionNode;
  /** The request's raw variables (coerced here against the operation's variable definitions). */
  variables?: Record<string, unknown> | null;
}

/** Page size assumed for a list or connection field queried without `first`. */
export const DEFAULT_LIST_MULTIPLIER = 20;

const ZERO: OperationMetrics = { depth: 0, aliases: 0, cost: 0 };

/**
 * Measures one operation of a parsed, validated document against `schema`. Linear in the document's size:
 * each fragment is measured once (cost is linear in the multiplier, so a fragment's relative cost is reused
 * wherever it is spread). An operation that is not in the document measures zero.
 */
export function analyzeOperation(schema: GraphQLSchema, document: DocumentNode, options: AnalyzeOptions = {}): OperationMetrics {
  const operation = options.operation ?? getOperationAST(document, options.operationName ?? undefined);
  if (!operation) return { ...ZERO };

  const coerced = getVariableValues(schema, operation.variableDefinitions ?? [], options.variables ?? {});
  // Variables that do not coerce fail execution anyway; measure as though they were absent.
  const variables: Record<string, unknown> = 'coerced' in coerced && coerced.coerced ? coerced.coerced : {};

  const fragments = new Map<string, FragmentDefinitionNode>();
  for (const definition of document.definitions) {
    if (definition.kind === 'FragmentDefinition') fragments.set(definition.name.value, definition);
  }
  const measuredFragments = new Map<string, OperationMetrics>();
  const inProgress = new Set<string>();

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

  const multiplier = (parent: GraphQLNamedType | undefined, definition: GraphQLField<unknown, unknown> | undefined, node: FieldNode): number => {
    if (!definition || (parent && isIntrospectionType(parent)) || definition.name.startsWith('__')) return 1;
    const firstArgument = definition.args.find((argument) => argument.name === 'first');
    const firstNode = node.arguments?.find((argument) => argument.name.value === 'first');
    if (firstArgument && firstNode) {
      const value = valueFromAST(firstNode.value, firstArgument.type, variables);
      if (typeof value === 'number' && Number.isFinite(value)) return Math.max(0, Math.floor(value));
    }
    const returnsList = isListType(getNullableType(definition.type));
    if (returnsList && parent && isConnection(parent)) return 1;
    if (returnsList || isConnection(getNamedType(definition.type))) return DEFAULT_LIST_MULTIPLIER;
    return 1;
  };

  // Metrics of a selection set relative to its own level: cost as if the enclosing multiplier were 1.
  const measure = (selectionSet: SelectionSetNode, parent: GraphQLNamedType | undefined): OperationMetrics => {
    const total: OperationMetrics = { depth: 0, aliases: 0, cost: 0 };
    const add = (inner: OperationMetrics, depthOffset: number, costFactor: number): void => {
      total.depth = Math.max(total.depth, inner.depth + depthOffset);
      total.aliases += inner.aliases;
      total.cost += inner.cost * costFactor;
    };
    for (const selection of selectionSet.selections) {
      if (!included(selection)) continue;
      switch (selection.kind) {
        case 'Field': {
          const definition = fieldDefinition(parent, selection);
          total.depth = Math.max(total.depth, 1);
          total.cost += 1;
          if (selection.alias) total.aliases += 1;
          if (selection.selectionSet) {
            const child = definition ? getNamedType(definition.type) : undefined;
            add(measure(selection.selectionSet, child), 1, multiplier(parent, definition, selection));
          }
          break;
        }
        case 'InlineFragment': {
          const condition = selection.typeCondition ? schema.getType(selection.typeCondition.name.value) : parent;
          add(measure(selection.selectionSet, condition ?? undefined), 0, 1);
          break;
        }
        case 'FragmentSpread': {
          add(measureFragment(selection.name.value), 0, 1);
          break;
        }
      }
    }
    return total;
  };

  const measureFragment = (name: string): OperationMetrics => {
    const known = measuredFragments.get(name);
    if (known) return known;
    const fragment = fragments.get(name);
    // Unknown or cyclic fragments fail validation; measure them as empty rather than loop.
    if (!fragment || inProgress.has(name)) return ZERO;
    inProgress.add(name);
    const metrics = measure(fragment.selectionSet, schema.getType(fragment.typeCondition.name.value) ?? undefined);
    inProgress.delete(name);
    measuredFragments.set(name, metrics);
    return metrics;
  };

  const root = schema.getRootType(operation.operation) ?? undefined;
  const metrics = measure(operation.selectionSet, root);
  return { ...metrics, cost: Math.min(metrics.cost, Number.MAX_SAFE_INTEGER) };
}

function isConnection(type: GraphQLNamedType): boolean {
  return isObjectType(type) && type.name.endsWith('Connection');
}

export interface QueryLimits {
  maxDepth: number;
  maxAliases: number;
  maxCost: number;
}

export const LimitErrorCode = {
  QueryTooDeep: 'QUERY_TOO_DEEP',
  TooManyAliases: 'TOO_MANY_ALIASES',
  QueryTooCostly: 'QUERY_TOO_COSTLY',
} as const;
export type LimitErrorCode = (typeof LimitErrorCode)[keyof typeof LimitErrorCode];

/** The first limit `metrics` exceed (depth, then aliases, then cost) as a 400 error; undefined when within all. */
export function checkLimits(metrics: OperationMetrics, limits: QueryLimits): GraphQLError | undefined {
  if (metrics.depth > limits.maxDepth) {
    return limitError(LimitErrorCode.QueryTooDeep, `Query depth ${metrics.depth} exceeds the maximum of ${limits.maxDepth}.`, limits.maxDepth, metrics.depth);
  }
  if (metrics.aliases > limits.maxAliases) {
    return limitError(LimitErrorCode.TooManyAliases, `Query uses ${metrics.aliases} aliases; the maximum is ${limits.maxAliases}.`, limits.maxAliases, metrics.aliases);
  }
  if (metrics.cost > limits.maxCost) {
    return limitError(
      LimitErrorCode.QueryTooCostly,
      `Query's estimated cost ${metrics.cost} exceeds the maximum of ${limits.maxCost}; request smaller pages (first) or fewer nested lists.`,
      limits.maxCost,
      metrics.cost,
    );
  }
  return undefined;
}

function limitError(code: LimitErrorCode, message: string, limit: number, measured: number): GraphQLError {
  return new GraphQLError(message, { extensions: { code, limit, measured, http: { status: 400 } } });
}

/**
 * Apollo Server plugin refusing operations over the limits in `didResolveOperation`, i.e. after parsing and
 * validation and before the gateway plans the query, so nothing reaches a subgraph. The refusal is a
 * GraphQLError with extensions { code, limit, measured } and HTTP status 400.
 */
export function createLimitsPlugin<TContext extends BaseContext = BaseContext>(limits: QueryLimits): ApolloServerPlugin<TContext> {
  for (const [name, value] of Object.entries(limits)) {
    if (!Number.isFinite(value) || value < 0) throw new RangeError(`${name} must be a non-negative number, got ${value}`);
  }
  return {
    async requestDidStart() {
      return {
        async didResolveOperation({ schema, document, operation, request }) {
          const metrics = analyzeOperation(schema, document, { operation, operationName: request.operationName ?? null, variables: request.variables ?? {} });
          const error = checkLimits(metrics, limits);
          if (error) throw error;
        },
      };
    },
  };
}
