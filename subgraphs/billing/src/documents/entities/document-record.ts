import { BigIntType, OptionalProps } from '@mikro-orm/core';
import { Check, Entity, Enum, Index, PrimaryKey, Property, Unique } from '@mikro-orm/decorators/legacy';
import { DocumentKind } from '../model.js';

export const DOCUMENT_CHECKS = {
  sequence: { name: 'billing_document_sequence_check', expression: 'sequence > 0' },
  totals: { name: 'billing_document_totals_check', expression: 'gross_minor = net_minor + vat_minor' },
} as const;

/**
 * Issued documents are immutable: a trigger refuses UPDATE and DELETE (a correction is a credit note). Declared on the
 * entity as raw DDL so the schema-drift check knows it belongs here; the migration creates the same.
 */
const IMMUTABLE_FUNCTION =
  `create or replace function "billing_document_immutable_fn"() returns trigger language plpgsql as $$ begin ` +
  `raise exception 'billing_document is immutable: % refused', tg_op using errcode = 'restrict_violation'; end; $$`;
export const DOCUMENT_TRIGGERS = [
  {
    name: 'billing_document_immutable',
    timing: 'before',
    events: ['update', 'delete'],
    forEach: 'row',
    expression: `${IMMUTABLE_FUNCTION};\ncreate trigger "billing_document_immutable" before update or delete on "billing_document" for each row execute function "billing_document_immutable_fn"()`,
  },
] as const;

/**
 * One issued document in billing's control database: the legal journal of every invoice, credit note and statement,
 * numbered per issuer, series and year without gaps. It lives beside its number counter (DocumentNumberCounter) so that
 * the number and the document commit in one transaction; a tenant's shard could not share that transaction with the
 * counter of an issuer whose documents span every shard (docs/decisions/0010-documents.md).
 *
 * `content` is everything a renderer needs (issuer, customer and branding as they were at issuance, lines, VAT
 * breakdown, a statement's summary), so the PDF and the XML can be rendered again at any time and come out the same.
 */
@Entity({ tableName: 'billing_document', triggers: DOCUMENT_TRIGGERS.map((trigger) => ({ ...trigger, events: [...trigger.events] })) })
@Unique({ properties: ['issuerId', 'series', 'year', 'sequence'] })
@Unique({ properties: ['issuerId', 'number'] })
@Unique({ properties: ['sourceKey'] })
@Index({ properties: ['tenantId', 'issueDate', 'id'] })
@Index({ properties: ['correctsId'] })
@Check(DOCUMENT_CHECKS.sequence)
@Check(DOCUMENT_CHECKS.totals)
export class DocumentRecord {
  [OptionalProps]?: 'correctsId';

  /** UUIDv7. */
  @PrimaryKey({ type: 'uuid' })
  id!: string;

  @Property({ type: 'uuid' })
  tenantId!: string;

  /** `platform` or the reselling partner's id: whose number series this is. */
  @Property({ type: 'text' })
  issuerId!: string;

  @Enum({ items: () => DocumentKind, type: 'text' })
  kind!: DocumentKind;

  /** RE, GS or KA. */
  @Property({ type: 'text' })
  series!: string;

  @Property({ type: 'integer' })
  year!: number;

  /** Position in the (issuer, series, year) sequence: 1, 2, 3, ... without gaps. */
  @Property({ type: new BigIntType('bigint') })
  sequence!: bigint;

  /** RE-2026-000123 */
  @Property({ type: 'text' })
  number!: string;

  @Property({ type: 'date' })
  issueDate!: string;

  @Property({ type: 'timestamptz' })
  issuedAt!: Date;

  @Property({ type: 'date' })
  periodFrom!: string;

  @Property({ type: 'date' })
  periodTo!: string;

  @Property({ type: 'character', length: 3 })
  currency!: string;

  @Property({ type: new BigIntType('bigint') })
  netMinor!: bigint;

  @Property({ type: new BigIntType('bigint') })
  vatMinor!: bigint;

  @Property({ type: new BigIntType('bigint') })
  grossMinor!: bigint;

  /** What caused it, unique: `top-up:<ledger entry>`, `refund:<ledger entry>`, `statement:<tenant>:<YYYY-MM>`, ... */
  @Property({ type: 'text' })
  sourceKey!: string;

  /** The invoice a credit note corrects. */
  @Property({ type: 'uuid', nullable: true })
  correctsId: string | null = null;

  @Property({ type: 'jsonb' })
  content!: unknown;
}

/** The last number taken per issuer, series and year; the row is locked by the issuing transaction until it commits. */
@Entity({ tableName: 'document_number_counter' })
@Check({ name: 'document_number_counter_last_value_check', expression: 'last_value > 0' })
export class DocumentNumberCounter {
  @PrimaryKey({ type: 'text' })
  issuerId!: string;

  @PrimaryKey({ type: 'text' })
  series!: string;

  @PrimaryKey({ type: 'integer' })
  year!: number;

  @Property({ type: new BigIntType('bigint') })
  lastValue!: bigint;
}

/** Logos of issued documents, content-addressed (documents keep the hash, never a URL that may change). */
@Entity({ tableName: 'document_logo' })
export class DocumentLogo {
  @PrimaryKey({ type: 'text' })
  sha256!: string;

  @Property({ type: 'text' })
  mime!: string;

  @Property({ type: 'blob' })
  data!: Buffer;
}
