import { Ctx, Directive, Field, Float, Int, ObjectType, Query, Resolver } from 'type-graphql';
import type { RequestContext } from '@saldo/graphql';
import type { ShardAdministration, ShardLoad } from '@saldo/sharding';

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

@ObjectType('Shard', { description: "One shard (PostgreSQL database) of a subgraph and how full it is." })
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

  @Resolver()
  class ShardOperationsResolver {
    @Query(() => SubgraphShardsType, { name: `${prefix}Shards`, description: `Platform operators: the ${subgraph} subgraph's shards and their load.` })
    async shards(@Ctx() ctx: ShardOperationsContext): Promise<SubgraphShardsType> {
      ctx.scope.requirePlatformAdmin();
      const report = await ctx.shardAdministration.loadReport();
      return { subgraph, shards: report.map(toShard) };
    }
  }
  Object.defineProperty(ShardOperationsResolver, 'name', { value: `${prefix}ShardOperationsResolver` });
  return ShardOperationsResolver;
}
