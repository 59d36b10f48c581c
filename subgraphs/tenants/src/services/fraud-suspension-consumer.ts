import { FraudCaseOpened, FraudCaseResolved, Topic, decode, type EventBus, type Unsubscribe } from '@saldo/events';
import { SaldoError } from '@saldo/graphql';
import type { Logger } from '@saldo/service';
import type { TenantService } from './tenant-service.js';

export const FRAUD_SUSPENSION_GROUP = 'tenants.fraud-suspension';

/** The suspension reason a fraud case leaves on the tenant: its resolution finds it again by this text. */
export function fraudSuspensionReason(caseId: string): string {
  return `fraud case ${caseId}`;
}

/**
 * A partner's fraud policy, carried out: a case opened with `suspendUsage` suspends the tenant (its usage is then
 * refused wherever tenant status is enforced; tenant.updated tells the other subgraphs), and dismissing that case
 * reactivates the tenant, unless an operator suspended or reactivated it for another reason meanwhile. Idempotent.
 */
export function subscribeFraudSuspension(bus: EventBus, tenants: TenantService, logger: Logger): Unsubscribe {
  return bus.subscribe(Topic.FraudEvents, FRAUD_SUSPENSION_GROUP, async (event) => {
    const opened = decode(FraudCaseOpened, event);
    if (opened?.suspendUsage) {
      const tenant = await tenants.get(opened.tenantId);
      if (tenant?.status !== 'ACTIVE') return;
      await ignoreStateRace(() => tenants.suspend(opened.tenantId, fraudSuspensionReason(opened.caseId)));
      logger.warn("tenant suspended by its partner's fraud policy", { tenant: opened.tenantId, case: opened.caseId, score: opened.score });
      return;
    }
    const resolved = decode(FraudCaseResolved, event);
    if (resolved?.resumeUsage) {
      const tenant = await tenants.get(resolved.tenantId);
      if (tenant?.status !== 'SUSPENDED' || tenant.suspensionReason !== fraudSuspensionReason(resolved.caseId)) return;
      await ignoreStateRace(() => tenants.reactivate(resolved.tenantId));
      logger.info('tenant reactivated: its fraud case was dismissed', { tenant: resolved.tenantId, case: resolved.caseId });
    }
  });
}

/** A concurrent change of status (an operator, a redelivery) makes the transition moot, not an error. */
async function ignoreStateRace(change: () => Promise<unknown>): Promise<void> {
  try {
    await change();
  } catch (error) {
    if (!(error instanceof SaldoError && error.code === 'INVALID_STATE')) throw error;
  }
}
