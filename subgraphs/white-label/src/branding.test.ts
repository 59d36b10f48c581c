import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { validateInput, SaldoError } from '@saldo/graphql';
import { BrandingSource, PLATFORM_BRANDING, resolvePartnerBranding, resolveTenantBranding, type BrandingValues } from './domain/branding.js';
import { brandingInputSchema, changedValues } from './services/inputs.js';

const none: BrandingValues = { displayName: null, primaryColor: null, accentColor: null, logoUrl: null, supportEmail: null };
const partner: BrandingValues = {
  displayName: 'Acme Voice',
  primaryColor: '#112233',
  accentColor: '#445566',
  logoUrl: 'https://cdn.acme.example/logo.svg',
  supportEmail: 'help@acme.example',
};

function codeOf(run: () => unknown): string {
  try {
    run();
  } catch (error) {
    assert.ok(error instanceof SaldoError, `expected a SaldoError, got ${String(error)}`);
    return error.code;
  }
  assert.fail('expected the input to be refused');
}

describe('branding resolution', () => {
  it('gives a tenant with neither own nor partner branding the platform default', () => {
    assert.deepEqual(resolveTenantBranding(null, null), { ...PLATFORM_BRANDING, source: BrandingSource.PLATFORM });
  });

  it("resolves each field on its own: a tenant that sets only its logo keeps its partner's colors", () => {
    const branding = resolveTenantBranding({ ...none, logoUrl: 'https://tenant.example/logo.png' }, partner);
    assert.equal(branding.logoUrl, 'https://tenant.example/logo.png');
    assert.equal(branding.primaryColor, '#112233');
    assert.equal(branding.accentColor, '#445566');
    assert.equal(branding.displayName, 'Acme Voice');
    assert.equal(branding.source, BrandingSource.TENANT);
  });

  it('falls back to the platform default for fields neither the tenant nor its partner set', () => {
    const branding = resolveTenantBranding({ ...none, displayName: 'Tenant Co' }, { ...none, accentColor: '#ABCDEF' });
    assert.deepEqual(branding, {
      displayName: 'Tenant Co',
      primaryColor: PLATFORM_BRANDING.primaryColor,
      accentColor: '#ABCDEF',
      logoUrl: null,
      supportEmail: PLATFORM_BRANDING.supportEmail,
      source: BrandingSource.TENANT,
    });
  });

  it("names the partner as source when the tenant's own row sets nothing", () => {
    assert.equal(resolveTenantBranding(none, partner).source, BrandingSource.PARTNER);
    assert.equal(resolveTenantBranding(none, none).source, BrandingSource.PLATFORM);
    assert.equal(resolvePartnerBranding(none).source, BrandingSource.PLATFORM);
    assert.equal(resolvePartnerBranding(partner).source, BrandingSource.PARTNER);
  });
});

describe('branding input', () => {
  it('normalizes colors to upper case and trims text', () => {
    const values = changedValues(validateInput(brandingInputSchema, { primaryColor: ' #0f766e ', displayName: '  Acme  ' }));
    assert.deepEqual(values, { primaryColor: '#0F766E', displayName: 'Acme' });
  });

  it('keeps omitted fields out of the change and null as a clear', () => {
    assert.deepEqual(changedValues(validateInput(brandingInputSchema, { logoUrl: null, accentColor: undefined })), { logoUrl: null });
  });

  it('refuses malformed values with a stable code per kind of problem', () => {
    const cases: Array<[Record<string, unknown>, string]> = [
      [{ primaryColor: 'teal' }, 'INVALID_COLOR'],
      [{ accentColor: '#12345' }, 'INVALID_COLOR'],
      [{ accentColor: '#12345G' }, 'INVALID_COLOR'],
      [{ logoUrl: 'http://cdn.example/logo.png' }, 'INVALID_URL'],
      [{ logoUrl: 'https://user:secret@cdn.example/logo.png' }, 'INVALID_URL'],
      [{ logoUrl: 'not a url' }, 'INVALID_URL'],
      [{ logoUrl: `https://cdn.example/${'a'.repeat(2048)}` }, 'STRING_TOO_LONG'],
      [{ supportEmail: 'support-at-example' }, 'INVALID_EMAIL'],
      [{ supportEmail: `${'a'.repeat(250)}@example.com` }, 'STRING_TOO_LONG'],
      [{ displayName: 'x'.repeat(101) }, 'STRING_TOO_LONG'],
      [{ displayName: '   ' }, 'BAD_USER_INPUT'],
      [{ displayName: 'Line\nbreak' }, 'BAD_USER_INPUT'],
    ];
    for (const [input, code] of cases) {
      assert.equal(
        codeOf(() => validateInput(brandingInputSchema, input)),
        code,
        JSON.stringify(input).slice(0, 80),
      );
    }
  });

  it('accepts a display name of exactly 100 characters and a URL of exactly 2048', () => {
    const url = `https://cdn.example/${'a'.repeat(2048 - 'https://cdn.example/'.length)}`;
    const values = changedValues(validateInput(brandingInputSchema, { displayName: 'x'.repeat(100), logoUrl: url }));
    assert.equal(values.displayName?.length, 100);
    assert.equal(values.logoUrl?.length, 2048);
  });
});
