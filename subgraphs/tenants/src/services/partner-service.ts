import { v7 as uuidv7 } from 'uuid';
import { decodeCursor, encodeCursor, isUuid, uuidSchema, validateInput } from '@saldo/graphql';
import type { ShardedDatabase } from '@saldo/sharding';
import { Partner } from '../entities/partner.js';
import { createPartnerSchema } from './inputs.js';

/** Partners (resellers): platform-wide rows in the control database. */
export class PartnerService {
  constructor(private readonly db: ShardedDatabase) {}

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
    const rows = await this.db
      .globalEm()
      .find(Partner, afterId ? { id: { $gt: afterId } } : {}, { orderBy: { id: 'asc' }, limit: options.first + 1 });
    return { partners: rows.slice(0, options.first), hasNextPage: rows.length > options.first };
  }

  cursorOf(partner: Partner): string {
    return encodeCursor(partner.id);
  }
}
