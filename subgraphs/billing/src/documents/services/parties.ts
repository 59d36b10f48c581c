import type { EntityManager } from '@mikro-orm/postgresql';
import { sellerProfileSchema } from '@saldo/events';
import type { ShardedDatabase } from '@saldo/sharding';
import type { CustomerSnapshot, DocumentBranding, IssuerSnapshot, Language, LogoImage } from '../model.js';

/**
 * Who a document is from and to, and how it looks, as billing knows it now (snapshotted into the document when it
 * is issued): the customer from the tenant's shard, the seller of record (the reselling partner's profile, else the
 * platform operator), the branding (tenant ?? partner ?? the issuer's own, per field) from the control database.
 */
export interface DocumentParties {
  issuer: IssuerSnapshot;
  customer: CustomerSnapshot;
  branding: DocumentBranding;
  language: Language;
}

/** German for customers in the German-speaking countries, English for everyone else. */
export function languageOf(country: string): Language {
  return ['DE', 'AT', 'CH', 'LI'].includes(country) ? 'de' : 'en';
}

interface CustomerRow {
  tenant_id: string;
  name: string | null;
  legal_name: string | null;
  address: { line1: string; line2: string | null; postalCode: string; city: string; region: string | null } | null;
  country: string | null;
  vat_id: string | null;
  partner_id: string | null;
  buyer_reference: string | null;
}

interface BrandingValues {
  displayName: string | null;
  primaryColor: string | null;
  accentColor: string | null;
  logoUrl: string | null;
  supportEmail: string | null;
}

export type PartiesProblem = { code: 'CUSTOMER_DATA_MISSING' | 'MISSING_ISSUER_DATA'; message: string };

export class PartiesReader {
  constructor(
    private readonly db: ShardedDatabase,
    private readonly platformIssuer: IssuerSnapshot | null,
  ) {}

  async customerRow(em: EntityManager, tenantId: string): Promise<CustomerRow | null> {
    const [row] = await em.execute<CustomerRow[]>(
      'select tenant_id, name, legal_name, address, country, vat_id, partner_id, buyer_reference from billing_customer where tenant_id = ?',
      [tenantId],
    );
    return row ?? null;
  }

  /** The parties of a new document for `tenantId`, or the problem that prevents issuing one. */
  async resolve(tenantId: string): Promise<DocumentParties | PartiesProblem> {
    const located = await this.db.emForTenant(tenantId);
    const row = located ? await this.customerRow(located.em, tenantId) : null;
    if (!row?.name || !row.country) {
      return { code: 'CUSTOMER_DATA_MISSING', message: `Billing has no customer data for tenant ${tenantId} yet (tenant.created not consumed).` };
    }
    const control = this.db.globalEm();
    const partnerProfile = row.partner_id ? await this.partnerIssuer(control, row.partner_id) : null;
    const issuerBase = partnerProfile ?? this.platformIssuer;
    if (!issuerBase) {
      return { code: 'MISSING_ISSUER_DATA', message: 'No seller of record is configured (ISSUER_* settings of billing); documents cannot be issued.' };
    }
    const brandingRows = await control.execute<
      Array<{ level: string; owner_id: string; values: BrandingValues; logo: Buffer | null; mime: LogoImage['mime'] | null }>
    >(
      `select b.level, b.owner_id, b.values, l.data as logo, l.mime from document_branding b left join document_logo l on l.sha256 = b.logo_sha256
        where (b.level = 'TENANT' and b.owner_id = ?) or (b.level = 'PARTNER' and b.owner_id = ?)`,
      [tenantId, row.partner_id ?? '00000000-0000-0000-0000-000000000000'],
    );
    const tenantLevel = brandingRows.find((b) => b.level === 'TENANT');
    const partnerLevel = brandingRows.find((b) => b.level === 'PARTNER');
    // Per field, most specific first (the contract of branding.changed): tenant, partner, the issuer's own.
    const pick = <K extends keyof BrandingValues>(key: K) => tenantLevel?.values[key] ?? partnerLevel?.values[key] ?? null;
    const logoOf = (level: typeof tenantLevel) => (level?.logo && level.mime ? { mime: level.mime, data: level.logo } : null);
    const branding: DocumentBranding = {
      displayName: pick('displayName') ?? issuerBase.branding.displayName,
      primaryColor: pick('primaryColor') ?? issuerBase.branding.primaryColor,
      accentColor: pick('accentColor') ?? issuerBase.branding.accentColor,
      logo:
        (tenantLevel?.values.logoUrl ? logoOf(tenantLevel) : null) ?? (partnerLevel?.values.logoUrl ? logoOf(partnerLevel) : null) ?? issuerBase.branding.logo,
      supportEmail: pick('supportEmail') ?? issuerBase.branding.supportEmail,
    };
    const issuer: IssuerSnapshot = partnerProfile ? { ...partnerProfile, branding: { ...partnerProfile.branding, logo: logoOf(partnerLevel) } } : issuerBase;
    const customer: CustomerSnapshot = {
      tenantId,
      name: row.legal_name ?? row.name,
      address: row.address
        ? { line1: row.address.line1, line2: row.address.line2, postalCode: row.address.postalCode, city: row.address.city, country: row.country }
        : null,
      country: row.country,
      vatId: row.vat_id,
      buyerReference: row.buyer_reference,
      email: null,
    };
    return { issuer, customer, branding, language: languageOf(row.country) };
  }

  /** A partner's seller-of-record profile as an issuer (its colors default to the platform's until branding says otherwise). */
  private async partnerIssuer(control: EntityManager, partnerId: string): Promise<IssuerSnapshot | null> {
    const [row] = await control.execute<Array<{ profile: unknown }>>('select profile from document_issuer_profile where partner_id = ?', [partnerId]);
    if (!row?.profile) return null;
    const profile = sellerProfileSchema.parse(row.profile);
    return {
      id: partnerId,
      legalName: profile.legalName,
      address: {
        line1: profile.address.line1,
        line2: profile.address.line2,
        postalCode: profile.address.postalCode,
        city: profile.address.city,
        country: profile.country,
      },
      vatId: profile.vatId,
      taxNumber: profile.taxNumber,
      registration: profile.registration,
      managingDirectors: profile.managingDirectors,
      email: profile.email,
      phone: profile.phone,
      contactName: profile.contactName,
      website: profile.website,
      bank: { iban: profile.iban, bic: profile.bic, bankName: profile.bankName, accountHolder: profile.legalName },
      branding: {
        displayName: profile.legalName,
        primaryColor: this.platformIssuer?.branding.primaryColor ?? '#0F766E',
        accentColor: this.platformIssuer?.branding.accentColor ?? '#F59E0B',
        logo: null,
        supportEmail: profile.email,
      },
    };
  }
}
