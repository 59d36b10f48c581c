/**
 * ISO 4217 active currency codes with their minor-unit exponent (digits after the decimal point).
 * Funds codes and precious metals are left out: nobody prepays a phone assistant in troy ounces.
 */
const TWO_DECIMALS =
  'AED AFN ALL AMD ANG AOA ARS AUD AWG AZN BAM BBD BDT BGN BMD BND BOB BRL BSD BTN BWP BYN BZD CAD CDF CHF CNY ' +
  'COP CRC CUP CVE CZK DKK DOP DZD EGP ERN ETB EUR FJD FKP GBP GEL GHS GIP GMD GTQ GYD HKD HNL HTG HUF IDR ILS ' +
  'INR IRR JMD KES KGS KHR KPW KYD KZT LAK LBP LKR LRD LSL MAD MDL MGA MKD MMK MNT MOP MRU MUR MVR MWK MXN MYR ' +
  'MZN NAD NGN NIO NOK NPR NZD PAB PEN PGK PHP PKR PLN QAR RON RSD RUB SAR SBD SCR SDG SEK SGD SHP SLE SOS SRD ' +
  'SSP STN SVC SYP SZL THB TJS TMT TOP TRY TTD TWD TZS UAH USD UYU UZS VES WST XCD XCG YER ZAR ZMW ZWG';
const ZERO_DECIMALS = 'BIF CLP DJF GNF ISK JPY KMF KRW PYG RWF UGX VND VUV XAF XOF XPF';
const THREE_DECIMALS = 'BHD IQD JOD KWD LYD OMR TND';

function table(codes: string, exponent: number): Array<[string, number]> {
  return codes.split(' ').map((code) => [code, exponent]);
}

const MINOR_UNITS: ReadonlyMap<string, number> = new Map([...table(TWO_DECIMALS, 2), ...table(ZERO_DECIMALS, 0), ...table(THREE_DECIMALS, 3)]);

export type CurrencyCode = string & { readonly __currency: unique symbol };

export function isCurrencyCode(value: string): value is CurrencyCode {
  return MINOR_UNITS.has(value);
}

/** Number of minor-unit digits of a currency (2 for EUR, 0 for JPY, 3 for KWD). */
export function minorUnitExponent(currency: CurrencyCode): number {
  const exponent = MINOR_UNITS.get(currency);
  if (exponent === undefined) throw new RangeError(`Unknown currency ${currency}`);
  return exponent;
}

export function supportedCurrencies(): string[] {
  return [...MINOR_UNITS.keys()].sort();
}
