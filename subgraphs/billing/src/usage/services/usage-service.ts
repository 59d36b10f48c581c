import { UsageRecorded, outboxRow } from '@saldo/events';
import { ErrorCode, validateInput } from '@saldo/graphql';
import { Money } from '@saldo/money';
import { usageCost } from '../pricing.js';
import { LedgerEntryType, type BalanceView, type LedgerEntry, type LedgerService, type PostingEntryInput } from '../../ledger/index.js';
import { BillingErrorCode, billingError } from '../../shared/errors.js';
import { MAX_USAGE_BATCH, usageBatchSchema, type UsageEventCommand } from './inputs.js';
import { SYSTEM_CLOCK, type Clock } from '../../shared/clock.js';
import type { RateService } from './rate-service.js';

/** A usage event as metering sources report it (GraphQL input, `usage.reported` payload). */
export interface UsageEventInput {
  id: string;
  product: string;
  quantity: number | bigint;
  occurredAt: Date | string;
}

export enum UsageEventStatus {
  /** Charged by this call. */
  ACCEPTED = 'ACCEPTED',
  /** Seen before (an earlier call, or earlier in this batch): not charged again. */
  DUPLICATE = 'DUPLICATE',
}

export interface UsageEventResult {
  id: string;
  status: UsageEventStatus;
  /** The ledger entry that charged the event (for a duplicate: the original one). */
  entryId: string;
  /** What the event cost (non-negative; the ledger entry is its negation). */
  cost: Money;
}

export interface RecordUsageResult {
  tenantId: string;
  /** One per input event, in input order. */
  results: UsageEventResult[];
  accepted: number;
  duplicates: number;
  balance: BalanceView;
}

/** The idempotency key of a usage event in its tenant's ledger. */
export function usageKey(eventId: string): string {
  return `usage:${eventId}`;
}

/**
 * Usage ingestion: the single path for Mutation.recordUsage and the usage-events consumer. A batch is validated
 * whole (any invalid event rejects all of it, nothing written), priced at the rate valid at each event's
 * occurredAt, and posted to the ledger as one transaction: every new event id becomes exactly one USAGE entry,
 * an id seen before is reported as a duplicate and never charged twice (also when the same event arrives
 * concurrently on two connections: postings to one account serialize and dedupe by idempotency key). A suspended
 * tenant's usage is refused (TENANT_SUSPENDED, nothing written) until the tenant is reactivated.
 */
export class UsageService {
  /** Built once: zod compiles a schema on its first parse, which would otherwise happen on every call. */
  private readonly batchSchema: ReturnType<typeof usageBatchSchema>;

  constructor(
    private readonly ledger: LedgerService,
    private readonly rates: RateService,
    private readonly clock: Clock = SYSTEM_CLOCK,
  ) {
    this.batchSchema = usageBatchSchema(() => this.clock.now());
  }

  async recordUsage(tenantId: string, events: readonly UsageEventInput[]): Promise<RecordUsageResult> {
    if (Array.isArray(events) && events.length > MAX_USAGE_BATCH) {
      throw billingError(BillingErrorCode.BatchTooLarge, `events: at most ${MAX_USAGE_BATCH} usage events per call, got ${events.length}.`, {
        field: 'events',
        max: MAX_USAGE_BATCH,
      });
    }
    const batch = validateInput(this.batchSchema, { tenantId, events });
    const currency = await this.ledger.currencyOf(batch.tenantId);
    if (!currency)
      throw billingError(BillingErrorCode.AccountNotFound, `Billing holds no account for tenant ${batch.tenantId} (yet).`, { tenantId: batch.tenantId });

    // The first occurrence of an id in the batch is the one charged; later ones are duplicates.
    const unique = new Map<string, UsageEventCommand>();
    for (const event of batch.events) if (!unique.has(event.id)) unique.set(event.id, event);
    const lines = [...unique.values()];
    const matches = await this.rates.resolve(currency, lines);
    const issues = matches.flatMap((match, index) =>
      match.ok
        ? []
        : [
            {
              field: `events.${batch.events.indexOf(lines[index]!)}.product`,
              code: match.code,
              message:
                match.code === BillingErrorCode.UnknownProduct
                  ? `no rate card prices ${lines[index]!.product}`
                  : `no ${currency} rate for ${lines[index]!.product} was valid at ${lines[index]!.occurredAt.toISOString()}`,
            },
          ],
    );
    if (issues.length > 0) {
      throw billingError(issues[0]!.code, issues.map((issue) => `${issue.field}: ${issue.message}`).join('; '), { issues });
    }

    const entries = lines.map((event, index): PostingEntryInput => {
      const rate = (matches[index] as Extract<(typeof matches)[number], { ok: true }>).rate;
      return {
        type: LedgerEntryType.USAGE,
        amountMinor: -usageCost(event.quantity, rate.unitPriceMicros),
        idempotencyKey: usageKey(event.id),
        product: event.product,
        quantity: event.quantity,
        rateId: rate.id,
        unitPriceMicros: rate.unitPriceMicros,
        occurredAt: event.occurredAt,
        externalRef: event.id,
      };
    });

    const outcome = await this.ledger.post({
      tenantId: batch.tenantId,
      currency,
      entries,
      overdraft: 'enforce',
      // A suspended tenant's usage is refused whole (TENANT_SUSPENDED), checked under the account lock.
      refuseUnlessActive: true,
      announce: (posting) => [
        outboxRow(UsageRecorded, posting.tenantId, {
          tenantId: posting.tenantId,
          currency: posting.currency,
          events: posting.posted.map((entry) => ({
            eventId: entry.externalRef!,
            entryId: entry.id,
            product: entry.product!,
            quantity: entry.quantity!.toString(),
            occurredAt: entry.occurredAt!.toISOString(),
            costMinor: (-entry.amountMinor).toString(),
            rateId: entry.rateId!,
            unitPriceMicros: entry.unitPriceMicros!.toString(),
          })),
        }),
      ],
    });

    const byKey = new Map<string, LedgerEntry>(outcome.duplicates);
    const postedKeys = new Set<string>();
    for (const entry of outcome.posted) {
      byKey.set(entry.idempotencyKey, entry);
      postedKeys.add(entry.idempotencyKey);
    }
    const charged = new Set<string>();
    const results = batch.events.map((event): UsageEventResult => {
      const key = usageKey(event.id);
      const entry = byKey.get(key);
      if (!entry) throw billingError(ErrorCode.Internal, `usage event ${event.id} has no ledger entry after posting`);
      const accepted = postedKeys.has(key) && !charged.has(key);
      charged.add(key);
      return {
        id: event.id,
        status: accepted ? UsageEventStatus.ACCEPTED : UsageEventStatus.DUPLICATE,
        entryId: entry.id,
        cost: Money.of(-entry.amountMinor, entry.currency),
      };
    });
    const accepted = results.filter((result) => result.status === UsageEventStatus.ACCEPTED).length;
    return { tenantId: outcome.tenantId, results, accepted, duplicates: results.length - accepted, balance: outcome.balance };
  }
}
