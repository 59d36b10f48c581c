import {
  BrandingChanged,
  PartnerSellerProfileChanged,
  TenantCreated,
  TenantUpdated,
  Topic,
  TransactionPosted,
  decode,
  type EventBus,
  type Unsubscribe,
} from '@saldo/events';
import { deterministicJobId, type JobQueue } from '@saldo/jobs';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import { brandingLogoQueue } from '../queues.js';
import type { DocumentService } from './document-service.js';

/** Consumer groups: one per purpose. */
export const DOCUMENT_PARTIES_GROUP = 'billing.documents.parties';
export const DOCUMENT_POSTINGS_GROUP = 'billing.documents.postings';

/**
 * Keeps what documents need of other subgraphs' data, from their events (never their tables): the tenant's invoicing
 * profile (tenants), partners as sellers of record (tenants), white-label branding. Each update is idempotent and
 * ordered by the event's own time, so a redelivered or late event never overwrites newer data. Logos are fetched by a
 * job, off the event path.
 */
export function subscribeDocumentParties(bus: EventBus, db: ShardedDatabase, jobs: JobQueue, logger: Logger): Unsubscribe {
  return bus.subscribe(Topic.TenantEvents, DOCUMENT_PARTIES_GROUP, async (event) => {
    const at = new Date(event.occurredAt);
    const tenant = decode(TenantCreated, event) ?? decode(TenantUpdated, event);
    if (tenant) {
      const profile = tenant.profile;
      await db.forTenant(
        tenant.tenantId,
        (em) =>
          em.execute(
            `insert into billing_customer (tenant_id, name, legal_name, address, country, vat_id, partner_id, profile_at, updated_at)
             values (?, ?, ?, ?::jsonb, ?, ?, ?, ?, ?)
             on conflict (tenant_id) do update set name = excluded.name, legal_name = excluded.legal_name, address = excluded.address,
               country = excluded.country, vat_id = excluded.vat_id, partner_id = excluded.partner_id, profile_at = excluded.profile_at, updated_at = excluded.updated_at
             where billing_customer.profile_at is null or billing_customer.profile_at <= excluded.profile_at`,
            [
              tenant.tenantId,
              tenant.name,
              profile?.legalName ?? null,
              profile?.address ? JSON.stringify(profile.address) : null,
              profile?.country ?? ('country' in tenant ? tenant.country : null),
              profile?.vatId ?? null,
              tenant.partnerId,
              at,
              new Date(),
            ],
            'run',
          ),
        { place: true, partnerId: tenant.partnerId },
      );
      return;
    }
    const seller = decode(PartnerSellerProfileChanged, event);
    if (seller) {
      await db.globalEm().execute(
        `insert into document_issuer_profile (partner_id, profile, changed_at) values (?, ?::jsonb, ?)
         on conflict (partner_id) do update set profile = excluded.profile, changed_at = excluded.changed_at
         where document_issuer_profile.changed_at <= excluded.changed_at`,
        [seller.partnerId, seller.profile ? JSON.stringify(seller.profile) : null, new Date(seller.changedAt)],
        'run',
      );
      logger.info('seller of record changed', { partner: seller.partnerId, sellerOfRecord: seller.profile ? 'partner' : 'platform' });
      return;
    }
    const branding = decode(BrandingChanged, event);
    if (branding) {
      const ownerId = (branding.level === 'PARTNER' ? branding.partnerId : branding.tenantId)!;
      const changedAt = new Date(branding.changedAt);
      // Keep the fetched logo while the URL stays the same; a new URL needs a new fetch.
      await db.globalEm().execute(
        `insert into document_branding (level, owner_id, values, logo_sha256, changed_at) values (?, ?, ?::jsonb, null, ?)
         on conflict (level, owner_id) do update set values = excluded.values, changed_at = excluded.changed_at,
           logo_sha256 = case when document_branding.values->>'logoUrl' is not distinct from excluded.values->>'logoUrl' then document_branding.logo_sha256 end
         where document_branding.changed_at <= excluded.changed_at`,
        [branding.level, ownerId, JSON.stringify(branding.values), changedAt],
        'run',
      );
      const url = branding.values.logoUrl;
      if (url)
        await jobs.send(
          brandingLogoQueue,
          { level: branding.level, ownerId, url },
          { id: deterministicJobId(brandingLogoQueue, branding.level, ownerId, url), singletonKey: `${branding.level}:${ownerId}` },
        );
    }
  });
}

/** Billing's own postings: an invoice job per credited top-up, a credit-note job per booked refund. */
export function subscribeDocumentPostings(bus: EventBus, documents: DocumentService): Unsubscribe {
  return bus.subscribe(Topic.TransactionEvents, DOCUMENT_POSTINGS_GROUP, async (event) => {
    const posted = decode(TransactionPosted, event);
    if (!posted) return;
    await documents.onPosting(posted.tenantId, posted.entries);
  });
}
