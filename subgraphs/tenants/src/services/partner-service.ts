import { LockMode } from '@mikro-orm/core';
import { v7 as uuidv7 } from 'uuid';
import { PartnerSellerProfileChanged, enqueueEvent, type OutboxRelay } from '@saldo/events';
import { ErrorCode, SaldoError, decodeCursor, encodeCursor, isUuid, uuidSchema, validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { Partner } from '../entities/partner.js';
import { createPartnerSchema, sellerProfileInputSchema } from './inputs.js';

/** Partners (resellers): platform-wide rows in the control database. */
export class PartnerService {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly relay?: OutboxRelay,
  ) {}

  /**
   * Makes the partner the seller of record of its tenants' billing documents (profile), or the platform again (null).
   * The change and its `partner.seller_profile_changed` event commit together in the control database.
   */
  async setSellerProfile(partnerId: string, input: unknown): Promise<Partner> {
    validateInput(uuidSchema, partnerId);
    const profile = input === null || input === undefined ? null : validateInput(sellerProfileInputSchema, input);
    const partner = await this.db.globalEm().transactional(async (tx) => {
      const row = await tx.findOne(Partner, { id: partnerId }, { lockMode: LockMode.PESSIMISTIC_WRITE });
      if (!row) throw new SaldoError(ErrorCode.PartnerNotFound, `No partner with id ${partnerId}.`);
      row.sellerProfile = profile;
      enqueueEvent(tx, PartnerSellerProfileChanged, partnerId, { partnerId, profile, changedAt: new Date().toISOString() });
      return row;
    });
    this.relay?.poke();
    return partner;
  }

  async create(input: unknown): Promise<Partner> {
    const command = validateInput(createPartnerSchema, input);
    const em = this.db.globalEm();
    const partner = em.create(Partner, { id: uuidv7(), ...command });
    await em.flush();
    return partner;
  }

  async get(id: string): Promise<Partner | null> {
    validateInput(uuidSchema, id);
    return (await this.getMany([id]))[0] ?? null;
  }

  async getMany(ids: readonly string[]): Promise<Array<Partner | null>> {
    const wellFormed = ids.filter(isUuid);
    const rows = wellFormed.length === 0 ? [] : await this.db.globalEm().find(Partner, { id: { $in: wellFormed } });
    const byId = new Map(rows.map((row) => [row.id, row]));
    return ids.map((id) => byId.get(id) ?? null);
  }

  async list(options: { first: number; after?: string | null }): Promise<{ partners: Partner[]; hasNextPage: boolean }> {
    const afterId = options.after ? decodeCursor(options.after, isUuid) : null;
    const rows = await this.db.globalEm().find(Partner, afterId ? { id: { $gt: afterId } } : {}, { orderBy: { id: 'asc' }, limit: options.first + 1 });
    return { partners: rows.slice(0, options.first), hasNextPage: rows.length > options.first };
  }

  cursorOf(partner: Partner): string {
    return encodeCursor(partner.id);
  }
}
