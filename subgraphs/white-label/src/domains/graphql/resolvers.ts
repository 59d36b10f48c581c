import { Arg, Ctx, FieldResolver, ID, Mutation, Query, Resolver, Root } from 'type-graphql';
import type { Loader } from '@saldo/graphql';
import type { SubgraphContext } from '@saldo/subgraph';
import { CustomDomain, DomainStatus } from '../entities/custom-domain.js';
import type { DomainCertificate } from '../entities/domain-certificate.js';
import { challengeRecordName, httpTokenPath } from '../ownership.js';
import type { DomainService } from '../services/domain-service.js';
import { AddCustomDomainInput, CustomDomainType, DomainCertificateType, DomainVerificationType } from './types.js';

/** The part of the subgraph's services custom domains need. */
export type DomainsContext = SubgraphContext<{ domains: DomainService }>;

function certificateLoader(ctx: DomainsContext): Loader<string, DomainCertificate | null> {
  return ctx.loader<string, DomainCertificate | null>('domainCertificate', (ids) => ctx.services.domains.certificatesOf(ids));
}

export function customDomainsLoader(ctx: DomainsContext): Loader<string, CustomDomain[]> {
  return ctx.loader<string, CustomDomain[]>('customDomains', (partnerIds) => ctx.services.domains.forPartners(partnerIds));
}

function statusMessage(domain: CustomDomain, servesDomains: boolean): string {
  switch (domain.status) {
    case DomainStatus.PENDING_VERIFICATION:
      return `Publish TXT ${challengeRecordName(domain.hostname)} with the verification value, then call verifyCustomDomain.`;
    case DomainStatus.VERIFIED:
      return servesDomains
        ? 'Ownership proven; a certificate is requested next.'
        : 'Ownership proven. No web server is configured on this platform (WEB_SERVER=none), so no certificate is requested and the domain is not served.';
    case DomainStatus.ISSUING:
      return 'A certificate is being obtained from the ACME CA.';
    case DomainStatus.ACTIVE:
      return 'Served over HTTPS.';
    case DomainStatus.RENEWING:
      return 'Served with the current certificate while a new one is obtained.';
    case DomainStatus.FAILED:
      return `Failed: ${domain.lastError ?? 'unknown reason'}`;
    case DomainStatus.REMOVED:
      return 'Removed; no longer served.';
  }
}

@Resolver(() => CustomDomainType)
export class CustomDomainResolver {
  @Query(() => CustomDomainType, { nullable: true, description: 'A custom domain by id: your own as a partner, any as an operator.' })
  customDomain(@Arg('id', () => ID) id: string, @Ctx() ctx: DomainsContext): Promise<CustomDomain | null> {
    return ctx.services.domains.get(id, ctx.scope);
  }

  @Mutation(() => CustomDomainType, {
    description:
      'Adds a hostname for a partner (PENDING_VERIFICATION). Errors: INVALID_HOSTNAME (malformed, wildcard, IP, internal, ' +
      "the platform's own), DOMAIN_TAKEN (held by another partner), FORBIDDEN. Adding it again returns the same domain.",
  })
  addCustomDomain(@Arg('input', () => AddCustomDomainInput) input: AddCustomDomainInput, @Ctx() ctx: DomainsContext): Promise<CustomDomain> {
    return ctx.services.domains.add(input, ctx.scope);
  }

  @Mutation(() => CustomDomainType, {
    description:
      'Checks the TXT record _saldo-challenge.<hostname>; on success the domain is VERIFIED and its certificate is requested. ' +
      "Errors: VERIFICATION_FAILED (record missing or wrong), RATE_LIMITED (the CA's limits; extensions.retryAt), DOMAIN_NOT_FOUND.",
  })
  verifyCustomDomain(@Arg('id', () => ID) id: string, @Ctx() ctx: DomainsContext): Promise<CustomDomain> {
    return ctx.services.domains.verify(id, ctx.scope);
  }

  @Mutation(() => CustomDomainType, { description: 'Stops serving the domain and frees the hostname. Errors: DOMAIN_NOT_FOUND.' })
  removeCustomDomain(@Arg('id', () => ID) id: string, @Ctx() ctx: DomainsContext): Promise<CustomDomain> {
    return ctx.services.domains.remove(id, ctx.scope);
  }

  @FieldResolver(() => String)
  statusMessage(@Root() domain: CustomDomain, @Ctx() ctx: DomainsContext): string {
    return statusMessage(domain, ctx.services.domains.servesDomains);
  }

  @FieldResolver(() => DomainVerificationType)
  verification(@Root() domain: CustomDomain): DomainVerificationType {
    return {
      recordName: challengeRecordName(domain.hostname),
      recordType: 'TXT',
      recordValue: domain.verificationToken,
      httpUrl: `http://${domain.hostname}${httpTokenPath(domain.id)}`,
    };
  }

  @FieldResolver(() => DomainCertificateType, { nullable: true })
  async certificate(@Root() domain: CustomDomain, @Ctx() ctx: DomainsContext): Promise<DomainCertificateType | null> {
    return domain.certificateId ? certificateLoader(ctx).load(domain.certificateId) : null;
  }

  @FieldResolver(() => Date, { nullable: true })
  async certificateExpiresAt(@Root() domain: CustomDomain, @Ctx() ctx: DomainsContext): Promise<Date | null> {
    return domain.certificateId ? ((await certificateLoader(ctx).load(domain.certificateId))?.notAfter ?? null) : null;
  }

  @FieldResolver(() => Date, { nullable: true })
  async nextRenewalAt(@Root() domain: CustomDomain, @Ctx() ctx: DomainsContext): Promise<Date | null> {
    return domain.certificateId ? ((await certificateLoader(ctx).load(domain.certificateId))?.renewAt ?? null) : null;
  }

  @FieldResolver(() => Boolean)
  hsts(@Root() domain: CustomDomain): boolean {
    return domain.firstServedAt !== null;
  }
}
