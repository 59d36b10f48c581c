/**
 * VAT charged on top of a top-up's credit. Payments asks the documents module (it knows the customer, the seller and
 * the rate table) when a top-up or an automatic top-up is about to be charged, stores the answer with the top-up and
 * charges net + VAT; the credit to the balance is the net, and the invoice shows exactly what was charged.
 */
export interface TaxQuote {
  netMinor: bigint;
  vatMinor: bigint;
  grossMinor: bigint;
  currency: string;
  category: string;
  basisPoints: number;
  vatCase: string;
  day: string;
}

/** null: no VAT is charged on top (documents are off: no seller of record configured). */
export type TaxQuoter = (tenantId: string, netMinor: bigint, currency: string, at: Date) => Promise<TaxQuote | null>;

export const NO_TAX: TaxQuoter = async () => null;

/** As stored with a top-up (JSON) and in the credit's ledger metadata (`metadata.tax`). */
export interface TaxRecord {
  netMinor: string;
  vatMinor: string;
  grossMinor: string;
  currency: string;
  category: string;
  basisPoints: number;
  vatCase: string;
  day: string;
}

export function taxRecord(quote: TaxQuote): TaxRecord {
  return {
    netMinor: quote.netMinor.toString(),
    vatMinor: quote.vatMinor.toString(),
    grossMinor: quote.grossMinor.toString(),
    currency: quote.currency,
    category: quote.category,
    basisPoints: quote.basisPoints,
    vatCase: quote.vatCase,
    day: quote.day,
  };
}

/** The net share of a gross amount paid under a quote (refunds take back the net in proportion), rounded half up. */
export function netShare(grossPaidMinor: bigint, tax: TaxRecord): bigint {
  const gross = BigInt(tax.grossMinor);
  if (gross === 0n) return 0n;
  return (grossPaidMinor * BigInt(tax.netMinor) * 2n + gross) / (gross * 2n);
}
