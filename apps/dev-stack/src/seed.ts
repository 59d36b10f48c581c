import { seededRandom } from '@saldo/testing';
import type { Logger } from '@saldo/service';
import { AutoTopUpMode, LedgerEntryType, LedgerService, OverdraftMode, previousMonth, type PostingEntryInput } from '@saldo/subgraph-billing';
import type { Stack } from './stack.js';

const PARTNERS = [
  {
    name: 'Voxly Reseller GmbH',
    legalName: 'Voxly Reseller GmbH',
    country: 'DE',
    contactEmail: 'partners@voxly.example',
    branding: {
      displayName: 'Voxly Assist',
      primaryColor: '#1D4ED8',
      accentColor: '#F97316',
      logoUrl: 'https://cdn.voxly.example/logo.svg',
      supportEmail: 'help@voxly.example',
    },
    // Voxly resells as seller of record: its tenants' invoices and statements are issued in its name and series.
    sellerProfile: {
      legalName: 'Voxly Reseller GmbH',
      address: { line1: 'Lindenstraße 12', postalCode: '20095', city: 'Hamburg' },
      country: 'DE',
      vatId: 'DE287654321',
      taxNumber: '43/765/43210',
      registration: 'HRB 165432, Amtsgericht Hamburg',
      managingDirectors: 'Lena Vogt',
      email: 'rechnung@voxly.example',
      phone: '+49 40 9876543',
      contactName: 'Voxly Abrechnung',
      website: 'https://voxly.example',
      iban: 'DE02120300000000202051',
      bic: 'BYLADEM1001',
      bankName: 'Deutsche Kreditbank',
    },
  },
  {
    name: 'CallNest Ltd',
    legalName: 'CallNest Limited',
    country: 'GB',
    contactEmail: 'hello@callnest.example',
    branding: {
      displayName: 'CallNest',
      primaryColor: '#7C3AED',
      accentColor: '#10B981',
      logoUrl: 'https://callnest.example/brand.png',
      supportEmail: 'support@callnest.example',
    },
    sellerProfile: null,
  },
];

const TENANTS = [
  {
    name: 'Praxis Dr. Weber',
    address: { line1: 'Marienplatz 4', postalCode: '80331', city: 'München' },
    country: 'DE',
    currency: 'EUR',
    vatId: 'DE123456789',
    partner: 0,
  },
  {
    name: 'Autohaus Becker',
    address: { line1: 'Industriestraße 18', postalCode: '50735', city: 'Köln' },
    country: 'DE',
    currency: 'EUR',
    vatId: 'DE234567891',
    partner: 0,
  },
  {
    name: 'Bäckerei Sommer',
    address: { line1: 'Mariahilfer Straße 45', postalCode: '1060', city: 'Wien' },
    country: 'AT',
    currency: 'EUR',
    vatId: 'ATU12345678',
    partner: 0,
  },
  {
    name: 'Hotel Alpenblick',
    address: { line1: 'Dorfstraße 7', postalCode: '6290', city: 'Mayrhofen' },
    country: 'AT',
    currency: 'EUR',
    vatId: 'ATU23456789',
    partner: 0,
  },
  {
    name: 'Kanzlei Hoffmann',
    address: { line1: 'Königsallee 60', postalCode: '40212', city: 'Düsseldorf' },
    country: 'DE',
    currency: 'EUR',
    vatId: 'DE345678912',
    partner: 0,
  },
  {
    name: 'Thames Dental',
    address: { line1: '12 Bankside', postalCode: 'SE1 9JA', city: 'London' },
    country: 'GB',
    currency: 'GBP',
    vatId: 'GB123456789',
    partner: 1,
  },
  {
    name: 'Leeds Plumbing Co',
    address: { line1: '3 Wellington Street', postalCode: 'LS1 4DL', city: 'Leeds' },
    country: 'GB',
    currency: 'GBP',
    vatId: 'GB234567891',
    partner: 1,
  },
  {
    name: 'Oxford Tutors',
    address: { line1: '21 High Street', postalCode: 'OX1 4AH', city: 'Oxford' },
    country: 'GB',
    currency: 'GBP',
    vatId: null,
    partner: 1,
  },
  {
    name: 'Studio Lumière',
    address: { line1: '8 rue Oberkampf', postalCode: '75011', city: 'Paris' },
    country: 'FR',
    currency: 'EUR',
    vatId: 'FR12345678901',
    partner: null,
  },
  {
    name: 'Rotterdam Logistics',
    address: { line1: 'Wilhelminakade 91', postalCode: '3072 AP', city: 'Rotterdam' },
    country: 'NL',
    currency: 'EUR',
    vatId: 'NL123456789B01',
    partner: null,
  },
  {
    name: 'Zürich Immobilien AG',
    address: { line1: 'Bahnhofstrasse 10', postalCode: '8001', city: 'Zürich' },
    country: 'CH',
    currency: 'CHF',
    vatId: 'CHE123456789MWST',
    partner: null,
  },
  {
    name: 'Acme Answering Inc',
    address: { line1: '500 Howard Street', postalCode: '94105', city: 'San Francisco' },
    country: 'US',
    currency: 'USD',
    vatId: null,
    partner: null,
  },
];

const HISTORY_DAYS = 60;
const PRODUCTS = ['inbound_minute', 'outbound_minute', 'sms'] as const;

/**
 * The demo rate card: price per unit as an exact decimal of minor units (cents, pence, Rappen), valid since
 * RATES_VALID_FROM. An AI assistant minute costs about 12-17 cents, a message 6-9.
 */
export const DEFAULT_RATES: Record<string, Record<(typeof PRODUCTS)[number], string>> = {
  EUR: { inbound_minute: '12.5', outbound_minute: '15', sms: '7.9' },
  GBP: { inbound_minute: '10.9', outbound_minute: '12.9', sms: '6.5' },
  CHF: { inbound_minute: '12.9', outbound_minute: '15.5', sms: '8.2' },
  USD: { inbound_minute: '13.5', outbound_minute: '16.5', sms: '8.5' },
};
const RATES_VALID_FROM = '2025-01-01T00:00:00Z';

/** A demo tenant's average daily cost in minor units: its usage scale priced at the demo rate card, weekends quieter. */
function dailyCostMinor(tenant: { currency: string; scale: number }): number {
  const prices = DEFAULT_RATES[tenant.currency]!;
  const perScale = Number(prices.inbound_minute) + Number(prices.outbound_minute) / 2 + Number(prices.sms) / 4;
  return (tenant.scale * perScale * (5 + 2 * 0.35)) / 7;
}

/** Seeds demo data through the services (the same paths the API uses), unless tenants exist already. */
export async function seedDemoData(stack: Stack, logger: Logger): Promise<boolean> {
  const existing = await stack.tenants.services.tenants.list({ first: 1 });
  if (existing.tenants.length > 0) return false;

  const random = seededRandom(20261123);
  const partnerIds: string[] = [];
  for (const partner of PARTNERS) {
    const created = await stack.tenants.services.partners.create(partner);
    await stack.whiteLabel.services.partnerBranding.set(created.id, partner.branding);
    if (partner.sellerProfile) await stack.tenants.services.partners.setSellerProfile(created.id, partner.sellerProfile);
    partnerIds.push(created.id);
  }

  const today = Date.UTC(new Date().getUTCFullYear(), new Date().getUTCMonth(), new Date().getUTCDate());
  const created: Array<{ id: string; currency: string; scale: number }> = [];
  for (const [index, spec] of TENANTS.entries()) {
    const partnerId = spec.partner === null ? null : (partnerIds[spec.partner] ?? null);
    const tenant = await stack.tenants.services.tenants.create({
      name: spec.name,
      legalName: spec.name,
      address: spec.address,
      country: spec.country,
      currency: spec.currency,
      vatId: spec.vatId,
      partnerId,
    });
    // Who is told what: a billing address per tenant (mail lands in the development inbox) and a low-balance alert at
    // 50.00 of its currency; the language follows the country.
    await stack.tenants.services.notifications.settings.set(tenant.id, {
      recipients: [
        `billing@${spec.name
          .toLowerCase()
          .normalize('NFKD')
          .replace(/[^a-z0-9]+/g, '-')
          .replace(/^-|-$/g, '')}.example`,
      ],
      lowBalanceThresholds: [{ amountMinor: 5_000n, currency: spec.currency }],
    });
    if (index === 1) {
      // One tenant with its own logo: everything else is inherited from its partner.
      await stack.whiteLabel.services.tenantBranding.set(tenant.id, { logoUrl: 'https://autohaus-becker.example/logo.png' });
    }
    const scale = 20 + Math.floor(random() * 200);
    created.push({ id: tenant.id, currency: spec.currency, scale });
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
  await stack.flushEvents(); // billing opens every account from tenant.created and learns the low-balance thresholds
  const lastMonth = await seedLastMonth(stack, created, random);
  const ledgerEntries = await seedBilling(stack, created, random);
  await stack.flushEvents();
  const documents = await seedDocuments(stack, created, lastMonth);
  // The first forecast model trains now, in the background (a durable job); forecasts use the seasonal baseline
  // until it is active, a few seconds later.
  await stack.usageForecast.services.lifecycle.maintain();
  logger.info('seeded demo data', { partners: PARTNERS.length, tenants: TENANTS.length, usageDays: HISTORY_DAYS, ledgerEntries, documents });
  return true;
}

/**
 * The billing side of the demo, through the same services the API uses: the default rate card, a top-up per
 * tenant, a few days of priced usage, and one tenant allowed a small overdraft. Returns the entries written.
 */
async function seedBilling(stack: Stack, tenants: ReadonlyArray<{ id: string; currency: string; scale: number }>, random: () => number): Promise<number> {
  const billing = stack.billing.services;
  for (const [currency, prices] of Object.entries(DEFAULT_RATES)) {
    if ((await billing.rates.list({ currency })).length > 0) continue;
    for (const [product, unitPriceMinor] of Object.entries(prices)) {
      await billing.rates.publish({ product, currency, unitPriceMinor, validFrom: RATES_VALID_FROM });
    }
  }
  let entries = 0;
  const now = Date.now();
  for (const [index, tenant] of tenants.entries()) {
    // Tops the balance up to two to seven weeks of the tenant's usage (at least 10.00), so every demo tenant has a
    // depletion date to watch.
    const target = BigInt(Math.round(dailyCostMinor(tenant) * (14 + random() * 35)));
    const balance = (await billing.accounts.find(tenant.id))?.balanceMinor ?? 0n;
    const amountMinor = ((target - balance > 1_000n ? target - balance : 1_000n) / 1_000n) * 1_000n;
    await billing.ledger.post({
      tenantId: tenant.id,
      currency: tenant.currency,
      entries: [await paidTopUpEntry(stack, tenant, amountMinor, 'demo:topup:1', `demo-payment-${index + 1}`, new Date(now - 4 * 86_400_000))],
    });
    const events = Array.from({ length: 20 + Math.floor(random() * 20) }, (_, event) => {
      const product = PRODUCTS[Math.floor(random() * PRODUCTS.length)]!;
      return {
        id: `demo-${index + 1}-${event + 1}`,
        product,
        quantity: product === 'sms' ? 1 : 1 + Math.floor(random() * 12),
        occurredAt: new Date(now - Math.floor(random() * 3 * 86_400_000)),
      };
    });
    events.sort((a, b) => a.occurredAt.getTime() - b.occurredAt.getTime());
    const usage = await billing.usage.recordUsage(tenant.id, events);
    entries += 1 + usage.accepted;
  }
  const overdrawn = tenants.find((tenant) => tenant.currency === 'USD');
  if (overdrawn) {
    await billing.accounts.setOverdraftPolicy(
      { tenantId: overdrawn.id, mode: OverdraftMode.ALLOW_OVERDRAFT, limit: { amountMinor: 5_000n, currency: 'USD' } },
      { mayExtendCredit: true },
    );
  }
  // With the development Stripe stand-in, one tenant tops up automatically: usage that takes it to 50.00 EUR or
  // below charges the stand-in's test card about 40 % of a day's usage, at most once a day (so its balance still
  // runs out, later). Its card is saved on its own customer at the stand-in (as the setup flow would), so the rule is
  // only seeded against the stand-in.
  const automatic = tenants.find((tenant) => tenant.currency === 'EUR');
  if (automatic && stack.stripeStandIn) {
    const saved = stack.stripeStandIn.savePaymentMethod(automatic.id);
    const topUp = BigInt(Math.max(10, Math.round((dailyCostMinor(automatic) * 0.4) / 100))) * 100n;
    await billing.autoTopUp.set({
      tenantId: automatic.id,
      threshold: { amountMinor: 5_000n, currency: 'EUR' },
      mode: AutoTopUpMode.FIXED_AMOUNT,
      amount: { amountMinor: topUp, currency: 'EUR' },
      dailyCap: { amountMinor: topUp, currency: 'EUR' },
      stripeCustomerId: saved.customerId,
      paymentMethodId: saved.paymentMethodId,
    });
  }
  return entries;
}

/**
 * A top-up as a Stripe payment books it: the net credit, with the VAT charged on top and what was paid in its
 * metadata (documents quote the VAT; the invoice shows exactly that).
 */
async function paidTopUpEntry(
  stack: Stack,
  tenant: { id: string; currency: string },
  amountMinor: bigint,
  key: string,
  payment: string,
  paidAt: Date,
): Promise<PostingEntryInput> {
  const quote = await stack.billing.services.documents.quoteTopUpTax(tenant.id, amountMinor, tenant.currency, paidAt);
  const gross = quote?.grossMinor ?? amountMinor;
  return {
    type: LedgerEntryType.TOP_UP,
    amountMinor,
    idempotencyKey: key,
    externalRef: payment,
    occurredAt: paidAt,
    description: 'Top-up via Stripe',
    metadata: {
      paid: { amountMinor: gross.toString(), currency: tenant.currency },
      tax: quote ? { ...quote, netMinor: quote.netMinor.toString(), vatMinor: quote.vatMinor.toString(), grossMinor: quote.grossMinor.toString() } : null,
    },
  };
}

/**
 * Last month's history, so every demo tenant has a real statement: a top-up early in the month and a few dozen priced
 * calls and messages, posted through the ledger with its clock set to when they happened.
 */
async function seedLastMonth(stack: Stack, tenants: ReadonlyArray<{ id: string; currency: string }>, random: () => number): Promise<string> {
  const period = previousMonth(new Date());
  const [year, month] = period.split('-').map(Number) as [number, number];
  const start = Date.UTC(year, month - 1, 2, 9);
  let at = start;
  const runtime = stack.billing.runtime;
  const ledger = new LedgerService(runtime.db, runtime.relay, { now: () => new Date(at) }, runtime.logger.child('seed'));
  for (const [index, tenant] of tenants.entries()) {
    at = start + index * 60_000;
    const price = DEFAULT_RATES[tenant.currency] ?? DEFAULT_RATES['EUR']!;
    await ledger.post({
      tenantId: tenant.id,
      currency: tenant.currency,
      entries: [await paidTopUpEntry(stack, tenant, 20_000n, 'demo:topup:last-month', `demo-payment-${index + 1}-0`, new Date(at))],
    });
    for (let event = 0; event < 36; event += 1) {
      at = start + (event + 1) * 18 * 3_600_000 + index * 60_000;
      const product = PRODUCTS[Math.floor(random() * PRODUCTS.length)]!;
      const quantity = BigInt(product === 'sms' ? 1 : 1 + Math.floor(random() * 12));
      const micros = BigInt(Math.round(Number(price[product]) * 1_000_000));
      await ledger.post({
        tenantId: tenant.id,
        currency: tenant.currency,
        entries: [
          {
            type: LedgerEntryType.USAGE,
            amountMinor: -((quantity * micros + 500_000n) / 1_000_000n),
            idempotencyKey: `demo:last-month:${event}`,
            product,
            quantity,
            unitPriceMicros: micros,
            occurredAt: new Date(at),
            externalRef: `demo-call-${event + 1}`,
          },
        ],
      });
    }
  }
  return period;
}

/** Invoices for the demo top-ups and last month's statement of every tenant (the jobs would do it moments later). */
async function seedDocuments(stack: Stack, tenants: ReadonlyArray<{ id: string }>, period: string): Promise<number> {
  const documents = stack.billing.services.documents;
  if (!documents.enabled) return 0;
  let issued = 0;
  for (const tenant of tenants) {
    const located = await stack.billing.runtime.db.emForTenant(tenant.id);
    const topUps = await located!.em.execute<{ id: string }[]>(`select id from ledger_entry where tenant_id = ? and type = 'TOP_UP' order by account_version`, [
      tenant.id,
    ]);
    for (const topUp of topUps) {
      await documents.issueTopUpInvoice(tenant.id, topUp.id);
      issued += 1;
    }
    await documents.issueStatement(tenant.id, period);
    issued += 1;
  }
  return issued;
}
