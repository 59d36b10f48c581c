import type { SubgraphRuntime } from '@saldo/subgraph';
import type { BillingConfig } from '../config.js';
import type { Clock } from '../shared/clock.js';
import type { BillingModule } from '../shared/module.js';
import { Account } from './entities/account.js';
import { LedgerEntry } from './entities/ledger-entry.js';
import type { LedgerServices } from './graphql/context.js';
import { BalanceQueryResolver, OverdraftResolver, TenantBillingResolver } from './graphql/resolvers.js';
import { BalanceSubscriptionResolver } from './graphql/subscriptions.js';
import { ledgerShardMigrations } from './migrations.js';
import { subscribeAccountOpener } from './services/account-opener.js';
import { AccountService } from './services/account-service.js';
import { subscribeBalanceAlerts } from './services/balance-alerts.js';
import { startBalanceFeed } from './services/balance-feed.js';
import { subscribeTenantStatus } from './services/tenant-status.js';
import { LedgerService } from './services/ledger-service.js';

/** Accounts, the append-only ledger, balances (queries and the live feed) and overdraft policies. */
export const ledgerModule: BillingModule<LedgerServices> = {
  name: 'ledger',
  shard: { entities: [Account, LedgerEntry], migrations: ledgerShardMigrations },
  resolvers: [TenantBillingResolver, BalanceQueryResolver, OverdraftResolver, BalanceSubscriptionResolver],
  subscribe: (services, { bus, db, logger }) => [
    subscribeAccountOpener(bus, services.accounts, logger),
    subscribeBalanceAlerts(bus, db, logger),
    subscribeTenantStatus(bus, db, logger),
    startBalanceFeed(services, { bus, logger }),
  ],
};

export function createLedgerServices(runtime: SubgraphRuntime<BillingConfig>, clock: Clock): LedgerServices {
  const ledger = new LedgerService(runtime.db, runtime.relay, clock, runtime.logger.child('ledger'));
  const postings = runtime.metrics.counter({ name: 'saldo_ledger_postings_total', help: 'Ledger postings committed (each appends one or more entries).' });
  const entries = runtime.metrics.counter({ name: 'saldo_ledger_entries_total', help: 'Ledger entries appended.' });
  const duration = runtime.metrics.histogram({
    name: 'saldo_ledger_posting_duration_seconds',
    help: 'Time of one ledger posting: its transaction (account lock, entries, balance and events) and commit.',
  });
  ledger.observePostings((count, seconds) => {
    postings.inc();
    entries.inc(count);
    duration.observe(seconds);
  });
  return { accounts: new AccountService(runtime.db), ledger };
}
