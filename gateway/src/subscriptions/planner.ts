import { Supergraph, operationFromDocument, type Schema } from '@apollo/federation-internals';
import { buildOperationContext } from '@apollo/gateway';
import { QueryPlanner, type FetchNode, type PlanNode } from '@apollo/query-planner';
import { GraphQLError, getOperationAST, print, validate, type DocumentNode, type GraphQLSchema } from 'graphql';

type OperationContext = ReturnType<typeof buildOperationContext>;

/** A subscription operation planned over the supergraph: one primary subscription and the fetches per event. */
export interface PlannedSubscription {
  /** The operation as the client sent it, printed canonically (deduplication key part). */
  text: string;
  operationName: string | null;
  document: DocumentNode;
  operationContext: OperationContext;
  /** The subscription to open on the subgraph that owns the root field. */
  primary: FetchNode;
  /** Entity fetches on other subgraphs, run for every event (absent when one subgraph answers everything). */
  rest: PlanNode | undefined;
}

/**
 * Plans subscriptions with Apollo's query planner over the same supergraph the gateway serves: validation against
 * the API schema, then `QueryPlanner.buildQueryPlan`, whose subscription plans are a `SubscriptionNode`
 * { primary, rest }. Plans are cached per operation text and name (bounded).
 */
export class SubscriptionPlanner {
  /** The client-facing (API) schema, as graphql-js. */
  readonly schema: GraphQLSchema;
  readonly supergraphSchema: GraphQLSchema;
  readonly apiSchema: Schema;
  /** Each subgraph's name and routing URL, as the supergraph declares them. */
  readonly subgraphs: ReadonlyArray<{ name: string; url: string }>;
  private readonly planner: QueryPlanner;
  private readonly cache = new Map<string, PlannedSubscription>();

  constructor(supergraphSdl: string) {
    const supergraph = Supergraph.build(supergraphSdl);
    this.apiSchema = supergraph.apiSchema();
    this.schema = this.apiSchema.toGraphQLJSSchema();
    this.supergraphSchema = supergraph.schema.toGraphQLJSSchema();
    this.planner = new QueryPlanner(supergraph);
    this.subgraphs = supergraph.subgraphsMetadata().map(({ name, url }) => ({ name, url }));
  }

  get supportsSubscriptions(): boolean {
    return Boolean(this.schema.getSubscriptionType());
  }

  /** Validates and plans a subscription; GraphQL errors (validation, not a subscription) are thrown. */
  plan(document: DocumentNode, operationName: string | null | undefined): PlannedSubscription {
    const text = print(document);
    const key = `${operationName ?? ''}\n${text}`;
    const cached = this.cache.get(key);
    if (cached) return cached;

    const errors = validate(this.schema, document);
    if (errors.length > 0) throw new PlanningErrors(errors);
    const operation = getOperationAST(document, operationName);
    if (!operation)
      throw new PlanningErrors([new GraphQLError(operationName ? `Unknown operation named "${operationName}".` : 'Must provide exactly one operation.')]);
    if (operation.operation !== 'subscription') throw new PlanningErrors([new GraphQLError('Not a subscription operation.')]);
    const operationContext = buildOperationContext({ schema: this.schema, operationDocument: document, operationName: operationName ?? undefined });
    const plan = this.planner.buildQueryPlan(operationFromDocument(this.apiSchema, document, { operationName: operationName ?? undefined }));
    const node = plan.node;
    if (!node || node.kind !== 'Subscription') throw new Error(`The query planner returned no subscription plan (got ${node?.kind ?? 'nothing'})`);

    const planned: PlannedSubscription = { text, operationName: operationName ?? null, document, operationContext, primary: node.primary, rest: node.rest };
    if (this.cache.size >= 1_000) this.cache.clear();
    this.cache.set(key, planned);
    return planned;
  }
}

/** Errors that make an operation unplannable; reported to the client as they are. */
export class PlanningErrors extends Error {
  constructor(readonly errors: readonly GraphQLError[]) {
    super(errors.map((error) => error.message).join('; '));
    this.name = 'PlanningErrors';
  }
}
