import { divideRoundHalfUp } from '@saldo/money';
import { isEuMemberState, isEuVatIdOf } from './eu.js';
import type { VatRateTable } from './rates.js';

/** The four ways a German (EU) seller's supply of an electronic service is taxed, by who the customer is. */
export enum VatCase {
  /** Customer in the seller's country: the seller's standard rate (DE: 19 %). */
  DOMESTIC = 'DOMESTIC',
  /** EU business with a VAT id of its member state: no VAT charged, the recipient owes it (Art. 196 VAT Directive). */
  REVERSE_CHARGE = 'REVERSE_CHARGE',
  /** EU consumer (no VAT id): the customer country's rate, declared through the One-Stop-Shop (OSS). */
  EU_CONSUMER = 'EU_CONSUMER',
  /** Customer outside the EU: the place of supply is outside the EU, not taxable in the seller's country. */
  NON_EU = 'NON_EU',
}

/** EN 16931 VAT category codes (UNCL5305) the four cases use. */
export type VatCategory = 'S' | 'AE' | 'O';

/** How one document is taxed: the case, its category and rate, and what the document must say about it. */
export interface VatTreatment {
  case: VatCase;
  category: VatCategory;
  /** Hundredths of a percent; 0 for AE and O. */
  basisPoints: number;
  /** The country whose rate applies (S), null for AE and O. */
  rateCountry: string | null;
  /** The day the rate was looked up for (YYYY-MM-DD): the service date. */
  rateDate: string;
  /** EN 16931 BT-121 for AE and O. */
  exemptionReasonCode: 'VATEX-EU-AE' | 'VATEX-EU-O' | null;
}

export interface VatParties {
  sellerCountry: string;
  customerCountry: string;
  /** The customer's VAT id as the tenants subgraph holds it (normalized), if any. */
  customerVatId: string | null;
}

export class VatRuleError extends Error {
  constructor(
    readonly code: 'UNSUPPORTED_ISSUER_COUNTRY' | 'VAT_RATE_NOT_FOUND',
    message: string,
  ) {
    super(message);
  }
}

/**
 * Decides the VAT case of a supply of electronic services (§ 3a UStG / Art. 44, 58 VAT Directive) on `serviceDay`:
 * domestic at the seller's rate, EU business with a VAT id of its own country -> reverse charge, EU consumer -> the
 * customer country's rate (OSS), outside the EU -> not taxable here. A customer in the seller's country always pays
 * domestic VAT, VAT id or not. The rate is the one valid on the service day.
 */
export function determineVatTreatment(parties: VatParties, serviceDay: string, rates: VatRateTable): VatTreatment {
  const { sellerCountry, customerCountry, customerVatId } = parties;
  if (!isEuMemberState(sellerCountry)) {
    throw new VatRuleError('UNSUPPORTED_ISSUER_COUNTRY', `Documents are issued for sellers established in the EU; the issuer is in ${sellerCountry}.`);
  }
  const standard = (country: string, vatCase: VatCase): VatTreatment => {
    const basisPoints = rates.rateOn(country, serviceDay);
    if (basisPoints === null) throw new VatRuleError('VAT_RATE_NOT_FOUND', `No VAT rate for ${country} on ${serviceDay} in the rate table.`);
    return { case: vatCase, category: 'S', basisPoints, rateCountry: country, rateDate: serviceDay, exemptionReasonCode: null };
  };
  if (customerCountry === sellerCountry) return standard(sellerCountry, VatCase.DOMESTIC);
  if (isEuMemberState(customerCountry)) {
    if (isEuVatIdOf(customerVatId, customerCountry)) {
      return { case: VatCase.REVERSE_CHARGE, category: 'AE', basisPoints: 0, rateCountry: null, rateDate: serviceDay, exemptionReasonCode: 'VATEX-EU-AE' };
    }
    return standard(customerCountry, VatCase.EU_CONSUMER);
  }
  return { case: VatCase.NON_EU, category: 'O', basisPoints: 0, rateCountry: null, rateDate: serviceDay, exemptionReasonCode: 'VATEX-EU-O' };
}

/** One row of a document's VAT breakdown (EN 16931 BG-23). */
export interface VatBreakdownRow {
  category: VatCategory;
  basisPoints: number;
  /** Sum of the net line totals of this category and rate (BT-116). */
  netMinor: bigint;
  /** netMinor x rate, rounded half up to the minor unit once, on the sum (BT-117). */
  vatMinor: bigint;
}

export interface VatTotals {
  breakdown: VatBreakdownRow[];
  netMinor: bigint;
  vatMinor: bigint;
  grossMinor: bigint;
}

/** A line as the VAT computation sees it: its net total and how it is taxed. */
export interface TaxedLine {
  netMinor: bigint;
  category: VatCategory;
  basisPoints: number;
}

/** VAT of `netMinor` at `basisPoints`, rounded half up (away from zero) to the minor unit. */
export function vatOf(netMinor: bigint, basisPoints: number): bigint {
  return divideRoundHalfUp(netMinor * BigInt(basisPoints), 10_000n);
}

/**
 * EN 16931's calculation: line net totals are summed per VAT category and rate, and the VAT of each group is its sum
 * times the rate, rounded once (BR-CO-17) - never the sum of per-line roundings. Totals are the sums of the groups.
 * Groups are ordered by category, then rate, so the same lines always give the same breakdown.
 */
export function computeVat(lines: readonly TaxedLine[]): VatTotals {
  const groups = new Map<string, VatBreakdownRow>();
  for (const line of lines) {
    const key = `${line.category}:${line.basisPoints}`;
    const row = groups.get(key) ?? { category: line.category, basisPoints: line.basisPoints, netMinor: 0n, vatMinor: 0n };
    row.netMinor += line.netMinor;
    groups.set(key, row);
  }
  const breakdown = [...groups.values()].sort((a, b) => (a.category === b.category ? a.basisPoints - b.basisPoints : a.category < b.category ? -1 : 1));
  let netMinor = 0n;
  let vatMinor = 0n;
  for (const row of breakdown) {
    row.vatMinor = row.category === 'S' ? vatOf(row.netMinor, row.basisPoints) : 0n;
    netMinor += row.netMinor;
    vatMinor += row.vatMinor;
  }
  return { breakdown, netMinor, vatMinor, grossMinor: netMinor + vatMinor };
}

/**
 * The largest net whose VAT-inclusive total does not exceed `grossMinor` (for a price that included VAT). Most gross
 * amounts are exactly net + VAT(net) for some net; the others exceed the nearest such total by one minor unit.
 */
export function netFromGross(grossMinor: bigint, basisPoints: number): bigint {
  if (basisPoints === 0) return grossMinor;
  let net = (grossMinor * 10_000n) / BigInt(10_000 + basisPoints) + 1n;
  while (net > 0n && net + vatOf(net, basisPoints) > grossMinor) net -= 1n;
  return net;
}
