import { Arg, Ctx, Directive, Field, Float, ID, Int, Mutation, ObjectType, Query, Resolver, registerEnumType } from 'type-graphql';
import { ErrorCode, SaldoError, assertUuid, type RequestContext } from '@saldo/graphql';
import { MOVE_STATES, ShardMoveError, type RebalanceMove, type ShardAdministration, type ShardLoad, type ShardMove } from '@saldo/sharding';

/*
 * Operators' view of one subgraph's shards, served by every subgraph alike. Each subgraph contributes its own root
 * field (`tenantsShards`, `billingShards`, `usageForecastShards`, `whiteLabelShards`): a federated root field is
 * resolved by one subgraph, and each subgraph alone knows its shards, so one operation asking for the four fields
 * shows every subgraph's shards. The value types are identical in the four subgraphs (@shareable).
 */

@ObjectType('ShardTable', { description: "One table on a shard: rows (PostgreSQL's live-row estimate) and bytes (with indexes)." })
@Directive('@shareable')
export class ShardTableType {
  @Field()
  name!: string;

  @Field(() => Float)
  rows!: number;

  @Field(() => Float)
  bytes!: number;
}

@ObjectType('ShardCapacity', { description: 'What one shard may hold (configuration); load is measured against it.' })
@Directive('@shareable')
export class ShardCapacityType {
  @Field(() => Float)
  tenants!: number;

  @Field(() => Float)
  rows!: number;

  @Field(() => Float)
  bytes!: number;

  @Field(() => Float)
  writesPerSecond!: number;
}

@ObjectType('Shard', { description: 'One shard (PostgreSQL database) of a subgraph and how full it is.' })
@Directive('@shareable')
export class ShardType {
  @Field(() => Int, { description: "The shard's position in the subgraph's configured shard list." })
  id!: number;

  @Field()
  databaseName!: string;

  @Field({ description: 'True when configured to take no new tenants (its tenants stay until moved).' })
  draining!: boolean;

  @Field(() => Int)
  tenants!: number;

  @Field(() => Float, { description: 'Rows over all tables (estimate).' })
  rows!: number;

  @Field(() => Float)
  bytes!: number;

  @Field(() => Float, { description: 'Rows inserted, updated or deleted per second, since the previous sample (0 until there is one).' })
  writesPerSecond!: number;

  @Field(() => [ShardTableType])
  tables!: ShardTableType[];

  @Field(() => ShardCapacityType)
  capacity!: ShardCapacityType;

  @Field(() => Float, { description: 'The highest of tenants, rows, bytes and write rate over their capacity (1 = full).' })
  load!: number;
}

@ObjectType('SubgraphShards', { description: "A subgraph's shards with their load." })
@Directive('@shareable')
export class SubgraphShardsType {
  @Field()
  subgraph!: string;

  @Field(() => [ShardType])
  shards!: ShardType[];
}

export enum ShardMoveState {
  PENDING = 'PENDING',
  COPYING = 'COPYING',
  CATCHING_UP = 'CATCHING_UP',
  FENCED = 'FENCED',
  VERIFYING = 'VERIFYING',
  SWITCHED = 'SWITCHED',
  CLEANED = 'CLEANED',
  FAILED = 'FAILED',
}
registerEnumType(ShardMoveState, { name: 'ShardMoveState', description: 'Where a move of a tenant between shards is; FAILED leaves the tenant where it was.' });
// The GraphQL enum and the mover's states are one list.
for (const state of MOVE_STATES) if (!(state in ShardMoveState)) throw new Error(`ShardMoveState lacks ${state}`);

@ObjectType('ShardMove', { description: "A move of one tenant's rows of one subgraph to another shard, while the tenant keeps working." })
@Directive('@shareable')
export class ShardMoveType {
  @Field(() => ID)
  id!: string;

  @Field()
  subgraph!: string;

  @Field(() => ID)
  tenantId!: string;

  @Field(() => Int)
  sourceShard!: number;

  @Field(() => Int)
  targetShard!: number;

  @Field(() => ShardMoveState)
  state!: ShardMoveState;

  @Field(() => Float, { description: 'Rows copied so far (the copy phase), of totalRows counted when it began.' })
  copiedRows!: number;

  @Field(() => Float)
  totalRows!: number;

  @Field(() => Float, { description: 'Changes made during the move and applied to the target.' })
  appliedChanges!: number;

  @Field(() => Float, { description: 'Share of the copy done, 0..1 (1 from CATCHING_UP on).' })
  progress!: number;

  @Field(() => Int, { nullable: true, description: "How long the tenant's writes waited at the switch, in milliseconds." })
  fenceMs!: number | null;

  @Field({ description: 'Asked to stop; honoured before the switch.' })
  cancelRequested!: boolean;

  @Field(() => String, { nullable: true, description: 'Why it FAILED.' })
  error!: string | null;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  @Field(() => Date, { nullable: true })
  switchedAt!: Date | null;
}

@ObjectType('PlannedShardMove', { description: 'One move of a rebalance: which tenant, from which shard to which, and why.' })
@Directive('@shareable')
export class PlannedShardMoveType {
  @Field(() => ID)
  tenantId!: string;

  @Field(() => Int)
  sourceShard!: number;

  @Field(() => Int)
  targetShard!: number;

  @Field(() => Float, { description: "The tenant's rows on the source shard (its weight in the plan)." })
  rows!: number;

  @Field(() => Float, { description: "The source shard's load before the move, as planned (1 = full)." })
  sourceLoad!: number;

  @Field(() => Float)
  sourceLoadAfter!: number;

  @Field(() => Float)
  targetLoad!: number;

  @Field(() => Float)
  targetLoadAfter!: number;

  @Field({ description: 'Why, in words.' })
  reason!: string;

  @Field(() => ShardMoveType, { nullable: true, description: 'The move started (a durable job); null in a dry run or when refused.' })
  move!: ShardMoveType | null;

  @Field(() => String, {
    nullable: true,
    description: 'Why the planned move did not start (TENANT_ALREADY_MOVING, TOO_MANY_MOVES, ...: the state changed since planning).',
  })
  refusal!: string | null;
}

@ObjectType('ShardRebalance', { description: "A rebalance of one subgraph's shards: the moves planned, and started unless a dry run." })
@Directive('@shareable')
export class ShardRebalanceType {
  @Field()
  subgraph!: string;

  @Field()
  dryRun!: boolean;

  @Field(() => Float, { description: 'Shards whose load passes this shed tenants.' })
  threshold!: number;

  @Field(() => Int, { description: 'The most unfinished moves at once (configuration).' })
  maxConcurrentMoves!: number;

  @Field(() => Int, { description: 'Unfinished moves when planning began.' })
  activeMoves!: number;

  @Field(() => [PlannedShardMoveType])
  moves!: PlannedShardMoveType[];

  @Field(() => [String], { description: 'Shards past the threshold the plan cannot bring under it, and why.' })
  notes!: string[];
}

/** The most moves one rebalance may be asked to plan (the concurrent-move limit caps it further). */
const MAX_REBALANCE_MOVES = 100;

const COPY_DONE: ReadonlySet<string> = new Set(['CATCHING_UP', 'FENCED', 'VERIFYING', 'SWITCHED', 'CLEANED']);

function toMoveType(subgraph: string, move: ShardMove): ShardMoveType {
  const progress = COPY_DONE.has(move.state) ? 1 : move.totalRows === 0 ? 0 : Math.min(1, move.copiedRows / move.totalRows);
  return { ...move, subgraph, state: move.state as ShardMoveState, progress };
}

/** The mover's refusals as stable GraphQL error codes; nothing was changed. */
async function coded<T>(work: () => Promise<T>): Promise<T> {
  try {
    return await work();
  } catch (error) {
    if (!(error instanceof ShardMoveError)) throw error;
    const code = {
      UNKNOWN_SHARD: ErrorCode.UnknownShard,
      SAME_SHARD: ErrorCode.SameShard,
      TENANT_ALREADY_MOVING: ErrorCode.TenantAlreadyMoving,
      TARGET_DRAINING: ErrorCode.TargetDraining,
      TENANT_NOT_FOUND: ErrorCode.TenantNotFound,
      MOVE_NOT_FOUND: ErrorCode.NotFound,
      MOVE_ALREADY_SWITCHED: ErrorCode.MoveAlreadySwitched,
      TOO_MANY_MOVES: ErrorCode.TooManyMoves,
    }[error.code];
    throw new SaldoError(code, error.message);
  }
}

/** What the shard resolvers need from the request context. */
export type ShardOperationsContext = RequestContext & { readonly shardAdministration: ShardAdministration };

/** `usage-forecast` -> `usageForecast`: the prefix of the subgraph's operator fields. */
export function shardFieldPrefix(subgraph: string): string {
  return subgraph.replace(/-([a-z])/g, (_match, letter: string) => letter.toUpperCase());
}

function toShard(load: ShardLoad): ShardType {
  return { id: load.shardId, ...load, capacity: { ...load.capacity } };
}

/**
 * The resolver class serving the subgraph's operator fields; each subgraph lists it among its resolvers. Built per
 * subgraph because the field names carry the subgraph's name.
 */
export function shardOperationsResolver(subgraph: string): Function {
  const prefix = shardFieldPrefix(subgraph);
  const Prefix = prefix.charAt(0).toUpperCase() + prefix.slice(1);

  @Resolver()
  class ShardOperationsResolver {
    @Query(() => SubgraphShardsType, { name: `${prefix}Shards`, description: `Platform operators: the ${subgraph} subgraph's shards and their load.` })
    async shards(@Ctx() ctx: ShardOperationsContext): Promise<SubgraphShardsType> {
      ctx.scope.requirePlatformAdmin();
      const report = await ctx.shardAdministration.loadReport();
      return { subgraph, shards: report.map(toShard) };
    }

    @Query(() => [ShardMoveType], {
      name: `${prefix}ShardMoves`,
      description: `Platform operators: the ${subgraph} subgraph's tenant moves, newest first (poll for progress).`,
    })
    async moves(
      @Ctx() ctx: ShardOperationsContext,
      @Arg('active', () => Boolean, { defaultValue: false, description: 'Unfinished moves only.' }) active: boolean,
    ): Promise<ShardMoveType[]> {
      ctx.scope.requirePlatformAdmin();
      return (await ctx.shardAdministration.moves({ active })).map((move) => toMoveType(subgraph, move));
    }

    @Mutation(() => ShardMoveType, {
      name: `start${Prefix}ShardMove`,
      description: `Platform operators: moves a tenant's ${subgraph} rows to another shard while it keeps working (a durable job; watch ${prefix}ShardMoves).`,
    })
    async startMove(
      @Ctx() ctx: ShardOperationsContext,
      @Arg('tenantId', () => ID) tenantId: string,
      @Arg('targetShard', () => Int) targetShard: number,
    ): Promise<ShardMoveType> {
      ctx.scope.requirePlatformAdmin();
      const id = assertUuid(tenantId, 'tenantId');
      return toMoveType(subgraph, await coded(() => ctx.shardAdministration.startMove(id, targetShard)));
    }

    @Mutation(() => ShardRebalanceType, {
      name: `rebalance${Prefix}Shards`,
      description: `Platform operators: plans moves of tenants off the ${subgraph} subgraph's shards past the threshold and, unless dryRun, starts them as durable jobs (watch ${prefix}ShardMoves).`,
    })
    async rebalance(
      @Ctx() ctx: ShardOperationsContext,
      @Arg('dryRun', () => Boolean, { description: 'Plan only: show the moves, start none.' }) dryRun: boolean,
      @Arg('threshold', () => Float, { nullable: true, description: 'Load past which a shard sheds tenants, 0 < threshold <= 1 (default: configuration).' })
      threshold: number | null | undefined,
      @Arg('maxMoves', () => Int, {
        nullable: true,
        description: `Plan at most this many moves, 1..${MAX_REBALANCE_MOVES} (the concurrent-move limit still holds).`,
      })
      maxMoves: number | null | undefined,
    ): Promise<ShardRebalanceType> {
      ctx.scope.requirePlatformAdmin();
      if (threshold != null && !(threshold > 0 && threshold <= 1))
        throw new SaldoError(ErrorCode.BadUserInput, 'threshold must be greater than 0 and at most 1.', { field: 'threshold' });
      if (maxMoves != null && (maxMoves < 1 || maxMoves > MAX_REBALANCE_MOVES))
        throw new SaldoError(ErrorCode.BadUserInput, `maxMoves must be between 1 and ${MAX_REBALANCE_MOVES}.`, { field: 'maxMoves' });
      const result = await ctx.shardAdministration.rebalance({
        dryRun,
        ...(threshold != null ? { threshold } : {}),
        ...(maxMoves != null ? { maxMoves } : {}),
      });
      return { subgraph, ...result, moves: result.moves.map((move: RebalanceMove) => ({ ...move, move: move.move ? toMoveType(subgraph, move.move) : null })) };
    }

    @Mutation(() => ShardMoveType, {
      name: `cancel${Prefix}ShardMove`,
      description: 'Platform operators: stops a move before its switch; the tenant stays where it was.',
    })
    async cancelMove(@Ctx() ctx: ShardOperationsContext, @Arg('moveId', () => ID) moveId: string): Promise<ShardMoveType> {
      ctx.scope.requirePlatformAdmin();
      const id = assertUuid(moveId, 'moveId');
      return toMoveType(subgraph, await coded(() => ctx.shardAdministration.cancelMove(id)));
    }
  }
  Object.defineProperty(ShardOperationsResolver, 'name', { value: `${prefix}ShardOperationsResolver` });
  return ShardOperationsResolver;
}
