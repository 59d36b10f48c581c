import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { MoneyType, connectionType } from '@saldo/graphql';
import { Money } from '@saldo/money';
import { MoneyInput } from '../../shared/graphql.js';
import { formatRatePercent } from '../einvoice/format.js';
import type { StoredDocument } from '../journal.js';
import { DocumentKind, type DocumentContent } from '../model.js';

registerEnumType(DocumentKind, {
  name: 'DocumentKind',
  description: 'Invoice (RE-...), credit note (GS-...) or monthly statement (KA-...).',
  valuesConfig: {
    INVOICE: { description: 'Rechnung: the prepaid credit of one successful top-up, VAT due on payment.' },
    CREDIT_NOTE: { description: 'Rechnungskorrektur (Gutschrift): corrects an invoice (refund, goodwill).' },
    STATEMENT: { description: 'Kontoauszug: a month on the prepaid account; not a tax invoice.' },
  },
});

export enum VatCategoryGql {
  S = 'S',
  AE = 'AE',
  O = 'O',
}
registerEnumType(VatCategoryGql, {
  name: 'VatCategory',
  description: 'EN 16931 VAT category (UNCL5305).',
  valuesConfig: {
    S: { description: 'Standard rate (domestic, or the EU consumer country rate via OSS).' },
    AE: { description: 'Reverse charge: the EU business customer owes the VAT.' },
    O: { description: 'Not subject to VAT here: customer outside the EU.' },
  },
});

@ObjectType('DocumentPeriod')
export class DocumentPeriodType {
  @Field({ description: 'First day (YYYY-MM-DD).' })
  from!: string;

  @Field({ description: 'Last day (YYYY-MM-DD).' })
  to!: string;
}

@ObjectType('DocumentTotals')
export class DocumentTotalsType {
  @Field(() => MoneyType)
  net!: MoneyType;

  @Field(() => MoneyType)
  vat!: MoneyType;

  @Field(() => MoneyType)
  gross!: MoneyType;
}

@ObjectType('VatBreakdownRow', { description: 'VAT per category and rate, computed on the sum of the net line totals (EN 16931).' })
export class VatBreakdownRowType {
  @Field({ description: 'Percent as an exact decimal, e.g. "19.00".' })
  rate!: string;

  @Field(() => VatCategoryGql)
  category!: VatCategoryGql;

  @Field(() => MoneyType)
  net!: MoneyType;

  @Field(() => MoneyType)
  vat!: MoneyType;
}

@ObjectType('Document', { description: 'An issued billing document: immutable, numbered without gaps per issuer, series and year.' })
export class DocumentType {
  @Field(() => ID)
  id!: string;

  @Field(() => DocumentKind)
  kind!: DocumentKind;

  @Field({ description: 'RE-2026-000123, GS-2026-000007, KA-2026-000042.' })
  number!: string;

  @Field({ description: 'Issue date (YYYY-MM-DD, Europe/Berlin).' })
  issueDate!: string;

  @Field(() => DocumentPeriodType, { description: 'Invoices: the day the payment was received; statements: the month.' })
  servicePeriod!: DocumentPeriodType;

  @Field()
  currency!: string;

  @Field(() => DocumentTotalsType, { description: 'Zero for statements (not tax documents).' })
  totals!: DocumentTotalsType;

  @Field(() => [VatBreakdownRowType])
  vatBreakdown!: VatBreakdownRowType[];

  /** Kept for the field resolvers (download links, the corrected invoice). */
  stored!: StoredDocument;
  content!: DocumentContent;

  static from(stored: StoredDocument, content: DocumentContent): DocumentType {
    const type = new DocumentType();
    const money = (minor: bigint) => MoneyType.from(Money.of(minor, stored.currency));
    type.id = stored.id;
    type.kind = stored.kind;
    type.number = stored.number;
    type.issueDate = stored.issueDate;
    type.servicePeriod = Object.assign(new DocumentPeriodType(), { from: stored.periodFrom, to: stored.periodTo });
    type.currency = stored.currency;
    type.totals = Object.assign(new DocumentTotalsType(), { net: money(stored.netMinor), vat: money(stored.vatMinor), gross: money(stored.grossMinor) });
    type.vatBreakdown = content.breakdown.map((row) =>
      Object.assign(new VatBreakdownRowType(), {
        rate: formatRatePercent(row.basisPoints),
        category: row.category as VatCategoryGql,
        net: money(row.netMinor),
        vat: money(row.vatMinor),
      }),
    );
    type.stored = stored;
    type.content = content;
    return type;
  }
}

export const DocumentConnection = connectionType('Document', DocumentType);
export type DocumentConnection = InstanceType<typeof DocumentConnection>;

@InputType('IssueCreditNoteInput')
export class IssueCreditNoteInput {
  @Field(() => ID, { description: 'The invoice to correct.' })
  documentId!: string;

  @Field(() => MoneyInput, {
    description: "Net amount to credit, in the invoice's currency; VAT at the invoice's rate is added. At most what remains creditable.",
  })
  amount!: MoneyInput;

  @Field({ description: 'Why (printed on the credit note), 3 to 500 characters.' })
  reason!: string;

  @Field({ description: "The client's key (1-128 of A-Z a-z 0-9 . _ : @ -): sending it again returns the same credit note." })
  idempotencyKey!: string;
}
