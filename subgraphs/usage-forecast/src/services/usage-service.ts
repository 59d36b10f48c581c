import type { EntityManager } from '@mikro-orm/postgresql';
import { validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { daysEndingOn, utcDay } from '../domain/days.js';
import { DAYS, dailyTotalsSchema, usageRecordSchema, usageRecordsSchema, type UsageRecordCommand } from './inputs.js';

/** One usage increment: `quantity` integer units of `product` used by the tenant on a UTC day. */
export interface UsageRecord {
  tenantId: string;
  /** yyyy-mm-dd, or a Date whose UTC day is meant. */
  day: string | Date;
  product: string;
  quantity: number | bigint;
}

/** A tenant's usage on one UTC day, summed over products. */
export interface UsageDay {
  /** yyyy-mm-dd */
  date: string;
  quantity: bigint;
}

export interface UsageServiceOptions {
  /** The clock deciding which UTC day is "today" (tests pin it). */
  now?: () => Date;
}

/** Adds to the aggregate; concurrent writers to the same (tenant, day, product) serialize on the row. */
const UPSERT_ONE = `insert into "daily_usage" ("tenant_id", "day", "product", "quantity")
  values (?::uuid, ?::date, ?, ?::bigint)
  on conflict ("tenant_id", "day", "product") do update set "quantity" = "daily_usage"."quantity" + excluded."quantity"
  returning "quantity"::text as "quantity"`;

/** The same for a whole batch: four array parameters, so one statement whatever the batch size. */
const UPSERT_MANY = `insert into "daily_usage" ("tenant_id", "day", "product", "quantity")
  select * from unnest(?::uuid[], ?::date[], ?::text[], ?::bigint[])
  on conflict ("tenant_id", "day", "product") do update set "quantity" = "daily_usage"."quantity" + excluded."quantity"`;

const TOTALS = `select "tenant_id", to_char("day", 'YYYY-MM-DD') as "day", sum("quantity")::text as "quantity"
  from "daily_usage"
  where "tenant_id" in (?) and "day" between ?::date and ?::date
  group by "tenant_id", "day"`;

/**
 * Daily usage aggregates per tenant, on the tenant's shard. Written by demo seeding and the usage-events
 * consumer; read as zero-filled daily windows for the graph and, later, the forecasts.
 */
export class UsageService {
  private readonly now: () => Date;

  constructor(
    private readonly db: ShardedDatabase,
    options: UsageServiceOptions = {},
  ) {
    this.now = options.now ?? (() => new Date());
  }

  /** Adds `quantity` to the tenant's (day, product) aggregate; returns the new aggregate. Places the tenant on first write. */
  async record(tenantId: string, day: string | Date, product: string, quantity: number | bigint): Promise<bigint> {
    const row = validateInput(usageRecordSchema, { tenantId, day, product, quantity });
    const [result] = await this.db.forTenant(
      row.tenantId,
      (em) => em.execute<{ quantity: string }[]>(UPSERT_ONE, [row.tenantId, row.day, row.product, row.quantity.toString()]),
      { place: true },
    );
    if (!result) throw new Error('daily_usage upsert returned no row');
    return BigInt(result.quantity);
  }

  /**
   * Adds a batch: the whole batch is validated first (one bad row writes nothing), rows for the same
   * (tenant, day, product) are summed, then each shard gets one statement. Each shard's statement is atomic;
   * the batch as a whole is not atomic across shards.
   */
  async recordMany(rows: readonly UsageRecord[], options: { transaction?: EntityManager } = {}): Promise<void> {
    const valid = validateInput(usageRecordsSchema, rows);
    if (valid.length === 0) return;

    const merged = new Map<string, UsageRecordCommand>();
    for (const row of valid) {
      const key = `${row.tenantId}|${row.day}|${row.product}`;
      const existing = merged.get(key);
      if (existing) existing.quantity += row.quantity;
      else merged.set(key, { ...row });
    }

    const upsert = (em: EntityManager, group: readonly UsageRecordCommand[]) =>
      em.execute(
        UPSERT_MANY,
        [
          pgArray(group.map((row) => row.tenantId)),
          pgArray(group.map((row) => row.day)),
          pgArray(group.map((row) => row.product)),
          pgArray(group.map((row) => row.quantity.toString())),
        ],
        'run',
      );
    const transaction = options.transaction;
    if (transaction) {
      // Inside a caller's transaction (an idempotent consumer) every row must live on that transaction's shard; the
      // caller runs it through the directory (ShardedDatabase.forTenants), which retries it after a move.
      const placements = await this.db.placeMany(valid.map((row) => row.tenantId));
      if (new Set(placements.values()).size > 1) throw new Error('recordMany in a transaction takes rows of one shard only');
      await upsert(transaction, [...merged.values()]);
      return;
    }
    // One statement per shard; a shard's statement refused because one of its tenants moved runs again where they are now.
    await this.db.forTenants(
      valid.map((row) => row.tenantId),
      async (em, _shardId, tenantIds) => {
        const members = new Set(tenantIds);
        await upsert(
          em,
          [...merged.values()].filter((row) => members.has(row.tenantId)),
        );
      },
      { place: true },
    );
  }

  /**
   * For each tenant (in input order), one entry per UTC day of the last `days` days, today included,
   * oldest first, zero days included, products summed. One directory lookup and one query per shard
   * involved, however many tenants; tenants this subgraph never saw get zeros.
   */
  async dailyTotals(tenantIds: readonly string[], days: number = DAYS.default): Promise<UsageDay[][]> {
    const input = validateInput(dailyTotalsSchema, { tenantIds: [...tenantIds], days });
    const window = daysEndingOn(utcDay(this.now()), input.days);
    const first = window[0] as string;
    const last = window[window.length - 1] as string;

    const totals = new Map<string, Map<string, bigint>>();
    const groups = await this.db.groupByShard([...new Set(input.tenantIds)]);
    await Promise.all(
      [...groups].map(async ([shardId, ids]) => {
        const rows = await this.db.em(shardId).execute<{ tenant_id: string; day: string; quantity: string }[]>(TOTALS, [ids, first, last]);
        for (const row of rows) {
          const perDay = totals.get(row.tenant_id) ?? new Map<string, bigint>();
          perDay.set(row.day, BigInt(row.quantity));
          totals.set(row.tenant_id, perDay);
        }
      }),
    );
    return input.tenantIds.map((tenantId) => {
      const perDay = totals.get(tenantId);
      return window.map((date) => ({ date, quantity: perDay?.get(date) ?? 0n }));
    });
  }
}

/** Hourly aggregates: one statement per batch, like the daily ones. */
const UPSERT_HOURS = `insert into "hourly_usage" ("tenant_id", "hour", "quantity")
  select * from unnest(?::uuid[], ?::timestamptz[], ?::bigint[])
  on conflict ("tenant_id", "hour") do update set "quantity" = "hourly_usage"."quantity" + excluded."quantity"`;

/** The last price charged per (tenant, product): an older charge arriving late never replaces a newer one. */
const UPSERT_PRICES = `insert into "tenant_price" ("tenant_id", "product", "unit_price_micros", "rate_id", "charged_at")
  select * from unnest(?::uuid[], ?::text[], ?::bigint[], ?::uuid[], ?::timestamptz[])
  on conflict ("tenant_id", "product") do update set "unit_price_micros" = excluded."unit_price_micros", "rate_id" = excluded."rate_id",
    "charged_at" = excluded."charged_at" where "tenant_price"."charged_at" <= excluded."charged_at"`;

/** A usage increment in one UTC hour (products summed). */
export interface HourlyRecord {
  tenantId: string;
  /** Any instant in the hour. */
  at: Date;
  quantity: bigint;
}

/** The unit price a usage event was charged at. */
export interface PriceRecord {
  tenantId: string;
  product: string;
  unitPriceMicros: bigint;
  rateId: string;
  chargedAt: Date;
}

/** Hourly and price rows are written inside the consumer's transaction on the tenants' shard. */
export async function recordHoursAndPrices(tx: EntityManager, hours: readonly HourlyRecord[], prices: readonly PriceRecord[]): Promise<void> {
  const merged = new Map<string, { tenantId: string; hour: string; quantity: bigint }>();
  for (const row of hours) {
    const hour = new Date(Math.floor(row.at.getTime() / 3_600_000) * 3_600_000).toISOString();
    const key = `${row.tenantId}|${hour}`;
    const existing = merged.get(key);
    if (existing) existing.quantity += row.quantity;
    else merged.set(key, { tenantId: row.tenantId, hour, quantity: row.quantity });
  }
  if (merged.size > 0) {
    const rows = [...merged.values()];
    await tx.execute(
      UPSERT_HOURS,
      [pgArray(rows.map((row) => row.tenantId)), pgArray(rows.map((row) => `"${row.hour}"`)), pgArray(rows.map((row) => row.quantity.toString()))],
      'run',
    );
  }
  // Newest charge per (tenant, product) within the batch.
  const latest = new Map<string, PriceRecord>();
  for (const price of prices) {
    const key = `${price.tenantId}|${price.product}`;
    const existing = latest.get(key);
    if (!existing || existing.chargedAt <= price.chargedAt) latest.set(key, price);
  }
  if (latest.size > 0) {
    const rows = [...latest.values()];
    await tx.execute(
      UPSERT_PRICES,
      [
        pgArray(rows.map((row) => row.tenantId)),
        pgArray(rows.map((row) => row.product)),
        pgArray(rows.map((row) => row.unitPriceMicros.toString())),
        pgArray(rows.map((row) => row.rateId)),
        pgArray(rows.map((row) => `"${row.chargedAt.toISOString()}"`)),
      ],
      'run',
    );
  }
}

/**
 * A PostgreSQL array literal. Only for values already validated to contain no quotes, commas, braces,
 * backslashes or spaces (uuids, ISO days, product names, integers, double-quoted ISO instants); MikroORM quotes the literal itself.
 */
function pgArray(values: readonly string[]): string {
  return `{${values.join(',')}}`;
}
