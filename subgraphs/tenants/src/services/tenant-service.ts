import { LockMode } from '@mikro-orm/core';
import { v7 as uuidv7 } from 'uuid';
import { TenantCreated, TenantUpdated, enqueueEvent, type OutboxRelay } from '@saldo/events';
import { ErrorCode, SaldoError, decodeCursor, encodeCursor, isUuid, uuidSchema, validateInput } from '@saldo/graphql';
import { gatherPage, type ShardedDatabase } from '@saldo/sharding';
import { isValidVatId } from '../domain/vat.js';
import { Partner } from '../entities/partner.js';
import { Tenant, TenantStatus, type TenantAddress } from '../entities/tenant.js';
import { createTenantSchema, suspensionReasonSchema, updateTenantSchema } from './inputs.js';

export interface TenantPage {
  tenants: Tenant[];
  hasNextPage: boolean;
}

/** Tenant lifecycle: create, update, suspend, reactivate, read and list across shards. */
export class TenantService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly relay: OutboxRelay,
  ) {}

  async create(input: unknown): Promise<Tenant> {
    const command = validateInput(createTenantSchema, input);
    if (command.partnerId !== null) await this.requirePartner(command.partnerId);

    const id = uuidv7();
    const { em } = await this.db.placeTenant(id, command.partnerId);
    const tenant = em.create(Tenant, { id, ...command });
    enqueueEvent(em, TenantCreated, id, {
      tenantId: id,
      partnerId: tenant.partnerId,
      name: tenant.name,
      currency: tenant.currency,
      country: tenant.country,
      status: tenant.status,
      profile: invoicingProfile(tenant),
    });
    try {
      await em.flush();
    } catch (error) {
      // The tenant was never written: its placement must not stay behind (it would count towards the shard's load).
      await this.db.unplaceTenant(id);
      throw error;
    }
    this.relay.poke();
    return tenant;
  }

  async update(id: string, input: unknown): Promise<Tenant> {
    const changes = validateInput(updateTenantSchema, input);
    return this.mutate(id, (tenant) => {
      if (changes.name !== undefined) tenant.name = changes.name;
      if (changes.legalName !== undefined) tenant.legalName = changes.legalName;
      if (changes.address !== undefined) tenant.address = changes.address;
      if (changes.country !== undefined) tenant.country = changes.country;
      if (changes.vatId !== undefined) tenant.vatId = changes.vatId;
      if (tenant.vatId !== null && !isValidVatId(tenant.vatId, tenant.country)) {
        throw new SaldoError(ErrorCode.InvalidVatId, `vatId: is not a valid VAT id for ${tenant.country}`, { field: 'vatId' });
      }
    });
  }

  /** Suspends an active tenant; suspending a suspended tenant is INVALID_STATE, not a silent no-op. */
  async suspend(id: string, reason: unknown): Promise<Tenant> {
    const why = validateInput(suspensionReasonSchema, reason);
    return this.mutate(id, (tenant) => {
      if (tenant.status !== TenantStatus.ACTIVE) throw new SaldoError(ErrorCode.InvalidState, 'The tenant is already suspended.');
      tenant.status = TenantStatus.SUSPENDED;
      tenant.suspendedAt = new Date();
      tenant.suspensionReason = why;
    });
  }

  async reactivate(id: string): Promise<Tenant> {
    return this.mutate(id, (tenant) => {
      if (tenant.status !== TenantStatus.SUSPENDED) throw new SaldoError(ErrorCode.InvalidState, 'The tenant is not suspended.');
      tenant.status = TenantStatus.ACTIVE;
      tenant.suspendedAt = null;
      tenant.suspensionReason = null;
    });
  }

  /** The tenant, or null when no tenant has this id; a malformed id is INVALID_ID. */
  async get(id: string): Promise<Tenant | null> {
    validateInput(uuidSchema, id);
    return (await this.getMany([id]))[0] ?? null;
  }

  /** Batch read in input order: one directory query plus one query per shard involved. */
  async getMany(ids: readonly string[]): Promise<Array<Tenant | null>> {
    const wellFormed = ids.filter(isUuid);
    const groups = await this.db.groupByShard(wellFormed);
    const found = new Map<string, Tenant>();
    await Promise.all(
      [...groups].map(async ([shardId, tenantIds]) => {
        // Raw SQL: every federated query and live update that selects tenant fields resolves them here; no entity
        // hydration or identity map for rows nobody modifies (mutations load their own).
        const rows = await this.db.em(shardId).execute<TenantRow[]>(
          `select id, name, legal_name, address, country, vat_id, currency, status, partner_id, suspended_at, suspension_reason, created_at, updated_at
             from tenant where id in (?)`,
          [tenantIds],
        );
        for (const row of rows) found.set(row.id, tenantFromRow(row));
      }),
    );
    return ids.map((id) => found.get(id) ?? null);
  }

  /** Keyset pagination over every shard, newest last (ids are time-ordered UUIDv7). */
  async list(options: { first: number; after?: string | null; partnerId?: string | null; onlyTenantId?: string | null }): Promise<TenantPage> {
    const afterId = options.after ? decodeCursor(options.after, isUuid) : null;
    if (options.partnerId) validateInput(uuidSchema, options.partnerId);
    const page = await gatherPage(
      this.db.shardIds,
      options.first,
      (shardId, limit) =>
        this.db.em(shardId).find(
          Tenant,
          {
            id: { ...(afterId ? { $gt: afterId } : {}), ...(options.onlyTenantId ? { $eq: options.onlyTenantId } : {}) },
            ...(options.partnerId ? { partnerId: options.partnerId } : {}),
          },
          { orderBy: { id: 'asc' }, limit },
        ),
      (a, b) => (a.id < b.id ? -1 : a.id > b.id ? 1 : 0),
    );
    return { tenants: page.items, hasNextPage: page.hasNextPage };
  }

  cursorOf(tenant: Tenant): string {
    return encodeCursor(tenant.id);
  }

  private async mutate(id: string, change: (tenant: Tenant) => void): Promise<Tenant> {
    validateInput(uuidSchema, id);
    // Refused because the tenant moved shards meanwhile (never applied there), the change runs again on the new shard.
    const tenant = await this.db.forTenantIfPlaced(id, (em) =>
      em.transactional(async (tx) => {
        const row = await tx.findOne(Tenant, { id }, { lockMode: LockMode.PESSIMISTIC_WRITE });
        if (!row) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${id}.`);
        change(row);
        enqueueEvent(tx, TenantUpdated, id, { tenantId: id, partnerId: row.partnerId, name: row.name, status: row.status, profile: invoicingProfile(row) });
        return row;
      }),
    );
    if (!tenant) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${id}.`);
    this.relay.poke();
    return tenant;
  }

  private async requirePartner(partnerId: string): Promise<void> {
    const partner = await this.db.globalEm().findOne(Partner, { id: partnerId });
    if (!partner) throw new SaldoError(ErrorCode.PartnerNotFound, `No partner with id ${partnerId}.`, { field: 'partnerId' });
  }
}

/** What billing prints on the tenant's invoices, carried by tenant.created and tenant.updated. */
function invoicingProfile(tenant: Tenant) {
  return { legalName: tenant.legalName, address: tenant.address, country: tenant.country, vatId: tenant.vatId };
}

interface TenantRow {
  id: string;
  name: string;
  legal_name: string | null;
  address: TenantAddress | null;
  country: string;
  vat_id: string | null;
  currency: string;
  status: TenantStatus;
  partner_id: string | null;
  suspended_at: Date | string | null;
  suspension_reason: string | null;
  created_at: Date | string;
  updated_at: Date | string;
}

/** A detached Tenant from a raw row. */
function tenantFromRow(row: TenantRow): Tenant {
  return Object.assign(new Tenant(), {
    id: row.id,
    name: row.name,
    legalName: row.legal_name,
    address: row.address,
    country: row.country,
    vatId: row.vat_id,
    currency: row.currency,
    status: row.status,
    partnerId: row.partner_id,
    suspendedAt: row.suspended_at === null ? null : new Date(row.suspended_at),
    suspensionReason: row.suspension_reason,
    createdAt: new Date(row.created_at),
    updatedAt: new Date(row.updated_at),
  });
}
