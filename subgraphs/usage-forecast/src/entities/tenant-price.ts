import { PrimaryKeyProp } from '@mikro-orm/core';
import { Entity, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The unit price billing last charged the tenant for a product (usage.recorded carries the rate and unit price of
 * every charged event): the rate card as it applies to this tenant, used to price forecast quantities.
 */
@Entity({ tableName: 'tenant_price' })
export class TenantPrice {
  [PrimaryKeyProp]?: ['tenantId', 'product'];

  @PrimaryKey({ type: 'uuid' })
  tenantId!: string;

  @PrimaryKey({ type: 'text' })
  product!: string;

  /** Millionths of a minor unit per unit of the product. */
  @Property({ type: 'bigint' })
  unitPriceMicros!: bigint;

  @Property({ type: 'uuid' })
  rateId!: string;

  /** occurredAt of the usage charged at this price: a later charge replaces it, an older one does not. */
  @Property({ type: 'timestamptz' })
  chargedAt!: Date;
}
