import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { isValidVatId, normalizeVatId } from './vat.js';

describe('VAT ids', () => {
  it("accept the formats of the tenant's country after normalizing", () => {
    assert.ok(isValidVatId(normalizeVatId('de 123.456.789'), 'DE'));
    assert.ok(isValidVatId('EL123456789', 'GR'));
    assert.ok(isValidVatId('NL123456789B01', 'NL'));
    assert.ok(isValidVatId('CHE123456789MWST', 'CH'));
  });

  it('reject ids of another country or the wrong length', () => {
    assert.ok(!isValidVatId('ATU12345678', 'DE'));
    assert.ok(!isValidVatId('DE12345678', 'DE'));
    assert.ok(!isValidVatId('GR123456789', 'GR'));
  });
});
