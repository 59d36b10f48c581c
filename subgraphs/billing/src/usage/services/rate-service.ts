import { v7 as uuidv7 } from 'uuid';
import { validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { Rate } from '../entities/rate.js';
import { SYSTEM_CLOCK, type Clock } from '../../shared/clock.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { currencySchema, instantSchema } from '../../shared/inputs.js';
import { productSchema, publishRateSchema } from './inputs.js';
import { z } from 'zod';

/** Advisory lock serializing rate publications in billing's control database. */
const RATE_LOCK = 0x5a1d0_010;

/** A priced usage line: which version applied and its unit price. */
export type RateMatch = { ok: true; rate: Rate } | { ok: false; code: typeof BillingErrorCode.UnknownProduct | typeof BillingErrorCode.RateNotFound };

const listSchema = z.object({
  currency: currencySchema,
  product: productSchema.nullish().transform((value) => value ?? null),
  validAt: instantSchema.nullish().transform((value) => value ?? null),
});

/**
 * The rate card: versioned prices per product and currency in billing's control database (platform-wide, not
 * tenant-owned). Versions of one (product, currency) form a timeline without overlaps; publishing appends to it.
 */
export class RateService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {}

  /**
   * Publishes a new version of a product's price in a currency, valid from `validFrom` (default: now) until
   * `validTo` (default: open-ended). The version in force before it ends where the new one starts. A version may
   * not reprice the past: its start must lie after the previous version's start, and not before now while the
   * previous version was in force (usage already charged at that price would otherwise differ from late usage
   * for the same instant). The first version of a product in a currency may start in the past: no usage could
   * have been charged before it existed.
   */
  async publish(input: unknown): Promise<Rate> {
    const command = validateInput(publishRateSchema, input);
    const now = this.clock.now();
    const validFrom = command.validFrom ?? now;
    if (command.validTo && command.validTo.getTime() <= validFrom.getTime()) {
      throw billingError(BillingErrorCode.RateWindowConflict, 'validTo: must be later than validFrom', { field: 'validTo' });
    }
    return this.db.globalEm().transactional(async (tx) => {
      await tx.execute('select pg_advisory_xact_lock(?)', [RATE_LOCK]);
      const [latest] = await tx.find(Rate, { product: command.product, currency: command.currency }, { orderBy: { validFrom: 'desc' }, limit: 1 });
      if (latest) {
        if (validFrom.getTime() <= latest.validFrom.getTime()) {
          throw billingError(
            BillingErrorCode.RateWindowConflict,
            `validFrom: must be later than the start of the current version (${latest.validFrom.toISOString()}).`,
            { field: 'validFrom' },
          );
        }
        const latestEnd = latest.validTo?.getTime() ?? Number.POSITIVE_INFINITY;
        if (validFrom.getTime() < now.getTime() && validFrom.getTime() < latestEnd) {
          throw billingError(
            BillingErrorCode.RateWindowConflict,
            'validFrom: a new version cannot reprice usage that already happened; start it now or later.',
            {
              field: 'validFrom',
            },
          );
        }
        if (latestEnd > validFrom.getTime()) latest.validTo = validFrom;
      }
      return tx.create(Rate, {
        id: uuidv7(),
        product: command.product,
        currency: command.currency,
        unitPriceMicros: command.unitPriceMinor,
        validFrom,
        validTo: command.validTo,
        createdAt: now,
      });
    });
  }

  /** Versions of a currency's rate card (optionally one product, optionally only those valid at an instant). */
  async list(input: { currency: string; product?: string | null; validAt?: Date | string | null }): Promise<Rate[]> {
    const query = validateInput(listSchema, input);
    return this.db.globalEm().find(
      Rate,
      {
        currency: query.currency,
        ...(query.product ? { product: query.product } : {}),
        ...(query.validAt ? { validFrom: { $lte: query.validAt }, $or: [{ validTo: null }, { validTo: { $gt: query.validAt } }] } : {}),
      },
      { orderBy: { product: 'asc', validFrom: 'asc' } },
    );
  }

  /**
   * The version valid at each line's occurredAt, in one query for the whole batch (and one more only when some
   * line finds none, to tell an unknown product from a missing rate).
   */
  async resolve(currency: string, lines: ReadonlyArray<{ product: string; occurredAt: Date }>): Promise<RateMatch[]> {
    if (lines.length === 0) return [];
    const products = [...new Set(lines.map((line) => line.product))];
    let earliest = lines[0]!.occurredAt;
    let latest = earliest;
    for (const { occurredAt } of lines) {
      if (occurredAt < earliest) earliest = occurredAt;
      if (occurredAt > latest) latest = occurredAt;
    }
    const em = this.db.globalEm();
    // Raw SQL on the usage hot path (every recordUsage): one statement, no entity hydration or identity map.
    const found = await em.execute<RateRow[]>(
      `select id, product, currency, unit_price_micros, valid_from, valid_to, created_at from rate
        where currency = ? and product in (?) and valid_from <= ? and (valid_to is null or valid_to > ?)
        order by valid_from`,
      [currency, products, latest, earliest],
    );
    const candidates = found.map(rateFromRow);
    const byProduct = new Map<string, Rate[]>();
    for (const rate of candidates) byProduct.set(rate.product, [...(byProduct.get(rate.product) ?? []), rate]);

    const matches = lines.map((line): RateMatch | undefined => {
      const at = line.occurredAt.getTime();
      const rate = byProduct
        .get(line.product)
        ?.find((version) => version.validFrom.getTime() <= at && (version.validTo === null || version.validTo.getTime() > at));
      return rate ? { ok: true, rate } : undefined;
    });
    if (matches.every((match) => match !== undefined)) return matches as RateMatch[];

    const unmatched = [...new Set(lines.filter((_line, index) => matches[index] === undefined).map((line) => line.product))];
    const rows = await em.execute<{ product: string }[]>('select distinct product from rate where product in (?)', [unmatched]);
    const known = new Set(rows.map((row) => row.product));
    return matches.map(
      (match, index) => match ?? { ok: false, code: known.has(lines[index]!.product) ? BillingErrorCode.RateNotFound : BillingErrorCode.UnknownProduct },
    );
  }
}

interface RateRow {
  id: string;
  product: string;
  currency: string;
  unit_price_micros: string;
  valid_from: Date | string;
  valid_to: Date | string | null;
  created_at: Date | string;
}

/** A detached Rate from a raw row (bigints arrive as strings). */
function rateFromRow(row: RateRow): Rate {
  return Object.assign(new Rate(), {
    id: row.id,
    product: row.product,
    currency: row.currency,
    unitPriceMicros: BigInt(row.unit_price_micros),
    validFrom: new Date(row.valid_from),
    validTo: row.valid_to === null ? null : new Date(row.valid_to),
    createdAt: new Date(row.created_at),
  });
}
