import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { leitwegCheckDigits, parseLeitwegId } from './leitweg-id.js';
import { DEFAULT_VAT_RATES_TEXT, VatRateTable, parseVatRates } from './vat/rates.js';
import { VatCase, VatRuleError, computeVat, determineVatTreatment, vatOf } from './vat/treatment.js';

const rates = VatRateTable.withOverrides();
const de = (customerCountry: string, customerVatId: string | null, day = '2026-03-14') =>
  determineVatTreatment({ sellerCountry: 'DE', customerCountry, customerVatId }, day, rates);

describe('VAT cases (German seller of electronic services)', () => {
  it('domestic customer: 19 %, with or without a VAT id', () => {
    for (const vatId of [null, 'DE123456789']) {
      const treatment = de('DE', vatId);
      assert.equal(treatment.case, VatCase.DOMESTIC);
      assert.equal(treatment.category, 'S');
      assert.equal(treatment.basisPoints, 1900);
      assert.equal(treatment.rateCountry, 'DE');
      assert.equal(treatment.exemptionReasonCode, null);
    }
  });

  it('EU business with a VAT id of its own member state: reverse charge, no VAT', () => {
    const treatment = de('AT', 'ATU12345678');
    assert.equal(treatment.case, VatCase.REVERSE_CHARGE);
    assert.equal(treatment.category, 'AE');
    assert.equal(treatment.basisPoints, 0);
    assert.equal(treatment.exemptionReasonCode, 'VATEX-EU-AE');
    // Greece's VAT ids carry EL, not GR.
    assert.equal(de('GR', 'EL123456789').case, VatCase.REVERSE_CHARGE);
  });

  it('EU customer without a (matching) VAT id: the customer country rate (OSS)', () => {
    const france = de('FR', null);
    assert.equal(france.case, VatCase.EU_CONSUMER);
    assert.equal(france.category, 'S');
    assert.equal(france.basisPoints, 2000);
    assert.equal(france.rateCountry, 'FR');
    // A VAT id of another member state does not make a French customer a reverse-charge recipient.
    assert.equal(de('FR', 'DE123456789').case, VatCase.EU_CONSUMER);
    assert.equal(de('HU', null).basisPoints, 2700);
    assert.equal(de('FI', null).basisPoints, 2550);
  });

  it('customer outside the EU: not taxable here, category O', () => {
    for (const [country, vatId] of [
      ['US', null],
      ['CH', 'CHE123456789MWST'],
      ['GB', 'GB123456789'],
    ] as const) {
      const treatment = de(country, vatId);
      assert.equal(treatment.case, VatCase.NON_EU);
      assert.equal(treatment.category, 'O');
      assert.equal(treatment.basisPoints, 0);
      assert.equal(treatment.exemptionReasonCode, 'VATEX-EU-O');
    }
  });

  it('the rate valid on the service date applies', () => {
    assert.equal(de('DE', null, '2020-06-30').basisPoints, 1900);
    assert.equal(de('DE', null, '2020-07-01').basisPoints, 1600);
    assert.equal(de('DE', null, '2020-12-31').basisPoints, 1600);
    assert.equal(de('DE', null, '2021-01-01').basisPoints, 1900);
    assert.equal(de('SK', null, '2024-12-31').basisPoints, 2000);
    assert.equal(de('SK', null, '2025-01-01').basisPoints, 2300);
  });

  it('refuses what it cannot decide: a seller outside the EU, a day before any known rate', () => {
    assert.throws(
      () => determineVatTreatment({ sellerCountry: 'US', customerCountry: 'DE', customerVatId: null }, '2026-01-01', rates),
      (error: unknown) => error instanceof VatRuleError && error.code === 'UNSUPPORTED_ISSUER_COUNTRY',
    );
    assert.throws(
      () => de('DE', null, '1990-01-01'),
      (error: unknown) => error instanceof VatRuleError && error.code === 'VAT_RATE_NOT_FOUND',
    );
  });
});

describe('the rate table is configuration', () => {
  it('overrides replace a country history whole, and the built-in table parses', () => {
    assert.ok(parseVatRates(DEFAULT_VAT_RATES_TEXT).length >= 27);
    const table = VatRateTable.withOverrides(parseVatRates('DE=19@2007-01-01,DE=21@2027-01-01'));
    assert.equal(table.rateOn('DE', '2026-12-31'), 1900);
    assert.equal(table.rateOn('DE', '2027-01-01'), 2100);
    assert.equal(table.rateOn('DE', '2020-08-01'), 1900, 'the 16 % period is gone with the replaced history');
    assert.equal(table.rateOn('FR', '2026-01-01'), 2000, 'other countries keep the built-in rates');
  });

  it('lists every malformed entry at once', () => {
    assert.throws(
      () => parseVatRates('DE=19@2007-01-01,XX=20@2020-01-01,DE=abc,AT=20@2020-02-30,DE=19@2007-01-01'),
      (error: unknown) => {
        const message = (error as Error).message;
        return ['XX is not an EU member state', '"DE=abc"', '2020-02-30 is not a calendar date', 'DE has two rates from 2007-01-01'].every((part) =>
          message.includes(part),
        );
      },
    );
  });
});

describe('EN 16931 rounding: per rate on the sum of line totals, half up, in minor units', () => {
  it('rounds the VAT of a group once, half away from zero', () => {
    assert.equal(vatOf(10_000n, 1900), 1_900n);
    assert.equal(vatOf(50n, 1900), 10n, '0.095 -> 0.10 (half up)');
    assert.equal(vatOf(2n, 1900), 0n, '0.0038 -> 0.00');
    assert.equal(vatOf(-50n, 1900), -10n, 'negative amounts round away from zero too');
    assert.equal(vatOf(8_403n, 1900), 1_597n, '84.03 x 19 % = 15.9657 -> 15.97');
    assert.equal(vatOf(10_001n, 2550), 2_550n, '100.01 x 25.5 % = 25.50255 -> 25.50');
  });

  it('sums lines per category and rate before rounding (never per-line roundings added up)', () => {
    const lines = [2n, 2n, 2n].map((netMinor) => ({ netMinor, category: 'S' as const, basisPoints: 1900 }));
    // Per line: 0.02 x 19 % = 0.0038 -> 0.00 three times = 0.00; on the sum: 0.06 x 19 % = 0.0114 -> 0.01.
    const totals = computeVat(lines);
    assert.deepEqual(totals.breakdown, [{ category: 'S', basisPoints: 1900, netMinor: 6n, vatMinor: 1n }]);
    assert.equal(totals.grossMinor, 7n);
  });

  it('keeps one breakdown row per category and rate, in a stable order, and no VAT for AE and O', () => {
    const totals = computeVat([
      { netMinor: 1_000n, category: 'S', basisPoints: 1900 },
      { netMinor: 500n, category: 'AE', basisPoints: 0 },
      { netMinor: 333n, category: 'S', basisPoints: 700 },
      { netMinor: 1_001n, category: 'S', basisPoints: 1900 },
      { netMinor: 100n, category: 'O', basisPoints: 0 },
    ]);
    assert.deepEqual(
      totals.breakdown.map((row) => [row.category, row.basisPoints, row.netMinor, row.vatMinor]),
      [
        ['AE', 0, 500n, 0n],
        ['O', 0, 100n, 0n],
        ['S', 700, 333n, 23n],
        ['S', 1900, 2_001n, 380n],
      ],
    );
    assert.equal(totals.netMinor, 2_934n);
    assert.equal(totals.vatMinor, 403n);
    assert.equal(totals.grossMinor, 3_337n);
  });
});

describe('Leitweg-ID (buyer reference for XRechnung)', () => {
  it('accepts well-formed ids with correct MOD 97-10 check digits, with and without a fine address', () => {
    assert.equal(parseLeitwegId('04011000-1234512345-06'), '04011000-1234512345-06');
    assert.equal(parseLeitwegId('991-33333test-33'), '991-33333TEST-33');
    assert.equal(parseLeitwegId(`05315-${leitwegCheckDigits('05315')}`), `05315-${leitwegCheckDigits('05315')}`);
  });

  it('refuses wrong check digits, wrong shapes and over-long ids', () => {
    for (const bad of [
      '04011000-1234512345-07',
      '04011000-1234512345',
      '0-12345-06',
      'abc-06',
      '04011000_1234512345_06',
      `04011000-${'A'.repeat(31)}-00`,
      '',
    ]) {
      assert.equal(parseLeitwegId(bad), null, bad);
    }
  });
});
