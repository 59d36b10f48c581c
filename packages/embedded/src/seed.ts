import type { Logger } from '@saldo/service';
import type { Stack } from './stack.js';

/** Small deterministic PRNG so every fresh install shows the same demo data. */
function mulberry32(seed: number): () => number {
  let state = seed;
  return () => {
    state = (state + 0x6d2b79f5) | 0;
    let t = Math.imul(state ^ (state >>> 15), 1 | state);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const PARTNERS = [
  { name: 'Voxly Reseller GmbH', legalName: 'Voxly Reseller GmbH', country: 'DE', contactEmail: 'partners@voxly.example',
    branding: { displayName: 'Voxly Assist', primaryColor: '#1D4ED8', accentColor: '#F97316', logoUrl: 'https://cdn.voxly.example/logo.svg', supportEmail: 'help@voxly.example' } },
  { name: 'CallNest Ltd', legalName: 'CallNest Limited', country: 'GB', contactEmail: 'hello@callnest.example',
    branding: { displayName: 'CallNest', primaryColor: '#7C3AED', accentColor: '#10B981', logoUrl: 'https://callnest.example/brand.png', supportEmail: 'support@callnest.example' } },
];

const TENANTS = [
  { name: 'Praxis Dr. Weber', country: 'DE', currency: 'EUR', vatId: 'DE123456789', partner: 0 },
  { name: 'Autohaus Becker', country: 'DE', currency: 'EUR', vatId: 'DE234567891', partner: 0 },
  { name: 'Bäckerei Sommer', country: 'AT', currency: 'EUR', vatId: 'ATU12345678', partner: 0 },
  { name: 'Hotel Alpenblick', country: 'AT', currency: 'EUR', vatId: 'ATU23456789', partner: 0 },
  { name: 'Kanzlei Hoffmann', country: 'DE', currency: 'EUR', vatId: 'DE345678912', partner: 0 },
  { name: 'Thames Dental', country: 'GB', currency: 'GBP', vatId: 'GB123456789', partner: 1 },
  { name: 'Leeds Plumbing Co', country: 'GB', currency: 'GBP', vatId: 'GB234567891', partner: 1 },
  { name: 'Oxford Tutors', country: 'GB', currency: 'GBP', vatId: null, partner: 1 },
  { name: 'Studio Lumière', country: 'FR', currency: 'EUR', vatId: 'FR12345678901', partner: null },
  { name: 'Rotterdam Logistics', country: 'NL', currency: 'EUR', vatId: 'NL123456789B01', partner: null },
  { name: 'Zürich Immobilien AG', country: 'CH', currency: 'CHF', vatId: 'CHE123456789MWST', partner: null },
  { name: 'Acme Answering Inc', country: 'US', currency: 'USD', vatId: null, partner: null },
];

const HISTORY_DAYS = 60;
const PRODUCTS = ['inbound_minute', 'outbound_minute', 'sms'] as const;

/** Seeds demo data through the services (the same paths the API uses), unless tenants exist already. */
export async function seedDemoData(stack: Stack, logger: Logger): Promise<boolean> {
  const existing = await stack.tenants.services.tenants.list({ first: 1 });
  if (existing.tenants.length > 0) return false;

  const random = mulberry32(20261123);
  const partnerIds: string[] = [];
  for (const partner of PARTNERS) {
    const created = await stack.tenants.services.partners.create(partner);
    await stack.whiteLabel.services.partnerBranding.set(created.id, partner.branding);
    partnerIds.push(created.id);
  }

  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  for (const [index, spec] of TENANTS.entries()) {
    const partnerId = spec.partner === null ? null : (partnerIds[spec.partner] ?? null);
    const tenant = await stack.tenants.services.tenants.create({ name: spec.name, country: spec.country, currency: spec.currency, vatId: spec.vatId, partnerId });
    if (index === 1) {
      // One tenant with its own logo: everything else is inherited from its partner.
      await stack.whiteLabel.services.tenantBranding.set(tenant.id, { logoUrl: 'https://autohaus-becker.example/logo.png' });
    }
    const scale = 20 + Math.floor(random() * 200);
    const rows = [];
    for (let day = HISTORY_DAYS - 1; day >= 0; day -= 1) {
      const date = new Date(today - day * 86_400_000);
      const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6;
      for (const product of PRODUCTS) {
        const base = product === 'sms' ? scale / 4 : product === 'outbound_minute' ? scale / 2 : scale;
        const quantity = Math.round(base * (weekend ? 0.35 : 1) * (0.75 + random() * 0.5));
        rows.push({ tenantId: tenant.id, day: date.toISOString().slice(0, 10), product, quantity });
      }
    }
    await stack.usageForecast.services.usage.recordMany(rows);
  }
  await stack.flushEvents();
  logger.info('seeded demo data', { partners: PARTNERS.length, tenants: TENANTS.length, usageDays: HISTORY_DAYS });
  return true;
}
