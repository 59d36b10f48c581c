import { TenantCreated, Topic, decode, type EventBus } from '@saldo/events';
import type { Logger } from '@saldo/service';
import type { AccountService } from './account-service.js';

/** Consumer group name: one per purpose, so adding a consumer never steals another's events. */
export const ACCOUNT_OPENER_GROUP = 'billing.account-opener';

/** Opens an account for every new tenant. Replays are harmless: opening is idempotent. */
export function subscribeAccountOpener(bus: EventBus, accounts: AccountService, logger: Logger): () => void {
  return bus.subscribe(Topic.TenantEvents, ACCOUNT_OPENER_GROUP, async (event) => {
    const created = decode(TenantCreated, event);
    if (!created) return;
    await accounts.open(created.tenantId, created.currency);
    logger.debug('opened account', { tenant: created.tenantId, currency: created.currency });
  });
}
