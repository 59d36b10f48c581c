import { PLATFORM_BRANDING_VALUES } from '@saldo/events';

/**
 * Branding resolution. Three levels, most specific first: the tenant's own values, its partner's
 * values, the platform default. Each field is resolved on its own (a tenant that sets only a logo
 * keeps its partner's colors), so a level never has to repeat what it inherits.
 */

/** The branding fields. At the tenant and partner levels every one of them is optional (null = inherit). */
export interface BrandingValues {
  displayName: string | null;
  primaryColor: string | null;
  accentColor: string | null;
  logoUrl: string | null;
  supportEmail: string | null;
}

export const BRANDING_FIELDS = ['displayName', 'primaryColor', 'accentColor', 'logoUrl', 'supportEmail'] as const satisfies ReadonlyArray<keyof BrandingValues>;
export type BrandingField = (typeof BRANDING_FIELDS)[number];

/** The level that decided a resolved branding: the most specific level that set any field. */
export enum BrandingSource {
  TENANT = 'TENANT',
  PARTNER = 'PARTNER',
  PLATFORM = 'PLATFORM',
}

export interface ResolvedBranding {
  displayName: string;
  primaryColor: string;
  accentColor: string;
  logoUrl: string | null;
  supportEmail: string | null;
  source: BrandingSource;
}

/** What every tenant sees when neither it nor its partner set a field. */
export const PLATFORM_BRANDING: Readonly<ResolvedBranding> = Object.freeze({ ...PLATFORM_BRANDING_VALUES, source: BrandingSource.PLATFORM });

/** True when the level sets at least one field; a row whose fields are all null inherits everything. */
export function setsAnyField(values: BrandingValues | null | undefined): values is BrandingValues {
  return values != null && BRANDING_FIELDS.some((field) => values[field] !== null);
}

/**
 * Resolves branding per field across `levels`, most specific first, ending at the platform default.
 * `source` names the most specific level that set any field (PLATFORM when none did).
 */
export function resolveBranding(levels: ReadonlyArray<{ source: BrandingSource; values: BrandingValues | null | undefined }>): ResolvedBranding {
  const pick = <F extends BrandingField>(field: F): ResolvedBranding[F] => {
    for (const level of levels) {
      const value = level.values?.[field];
      if (value !== null && value !== undefined) return value as ResolvedBranding[F];
    }
    return PLATFORM_BRANDING[field];
  };
  return {
    displayName: pick('displayName'),
    primaryColor: pick('primaryColor'),
    accentColor: pick('accentColor'),
    logoUrl: pick('logoUrl'),
    supportEmail: pick('supportEmail'),
    source: levels.find((level) => setsAnyField(level.values))?.source ?? BrandingSource.PLATFORM,
  };
}

/** A tenant's effective branding: tenant ?? partner ?? platform, per field. */
export function resolveTenantBranding(tenant: BrandingValues | null, partner: BrandingValues | null): ResolvedBranding {
  return resolveBranding([
    { source: BrandingSource.TENANT, values: tenant },
    { source: BrandingSource.PARTNER, values: partner },
  ]);
}

/** A partner's branding as its tenants inherit it: partner ?? platform, per field. */
export function resolvePartnerBranding(partner: BrandingValues | null): ResolvedBranding {
  return resolveBranding([{ source: BrandingSource.PARTNER, values: partner }]);
}
