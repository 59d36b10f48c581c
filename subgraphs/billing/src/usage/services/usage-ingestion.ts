import { GraphQLError } from 'graphql';
import { Topic, UsageReported, decode, type EventBus, type Unsubscribe } from '@saldo/events';
import type { Logger } from '@saldo/service';
import { BillingErrorCode } from '../../shared/errors.js';
import type { UsageService } from './usage-service.js';

export const USAGE_INGESTION_GROUP = 'billing.usage-ingestion';

/**
 * Usage reported by metering sources on `usage-events` is charged through the same path as Mutation.recordUsage,
 * so the same validation, pricing and per-event idempotency apply (a redelivered event is a duplicate, never a
 * second charge). The bus commits the offset only after this handler resolved, i.e. after the ledger commit.
 * Billing's own `usage.recorded` events share the topic and are ignored here.
 *
 * Invalid input can never succeed on retry, so it is logged and skipped rather than blocking its partition;
 * an account not opened yet (tenant.created still in flight) is retried.
 */
export function subscribeUsageIngestion(bus: EventBus, usage: UsageService, logger: Logger): Unsubscribe {
  return bus.subscribe(Topic.UsageEvents, USAGE_INGESTION_GROUP, async (event) => {
    const reported = decode(UsageReported, event);
    if (!reported) return;
    try {
      const result = await usage.recordUsage(reported.tenantId, reported.events);
      logger.debug('ingested usage', { tenant: reported.tenantId, accepted: result.accepted, duplicates: result.duplicates });
    } catch (error) {
      const code = error instanceof GraphQLError ? String(error.extensions['code']) : undefined;
      if (code === undefined || code === BillingErrorCode.AccountNotFound) throw error;
      logger.error('rejected reported usage', { id: event.id, tenant: reported.tenantId, code, error });
    }
  });
}
