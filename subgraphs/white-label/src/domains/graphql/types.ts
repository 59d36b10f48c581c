import { Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { DomainPurpose, DomainStatus } from '../entities/custom-domain.js';

registerEnumType(DomainPurpose, {
  name: 'DomainPurpose',
  valuesConfig: {
    PORTAL: { description: 'The branded portal (under /portal) and the GraphQL API it uses.' },
    API: { description: 'The GraphQL API only.' },
  },
});

registerEnumType(DomainStatus, {
  name: 'DomainStatus',
  valuesConfig: {
    PENDING_VERIFICATION: { description: 'Waiting for proof of ownership: publish the TXT record, then call verifyCustomDomain.' },
    VERIFIED: { description: 'Ownership proven; a certificate will be requested (or, without a web server, nothing more happens).' },
    ISSUING: { description: 'A certificate is being obtained from the ACME CA.' },
    ACTIVE: { description: 'Served over HTTPS with its certificate.' },
    RENEWING: { description: 'Served with its current certificate while a new one is obtained.' },
    FAILED: { description: 'Issuance gave up or the web server refused the domain; see lastError. verifyCustomDomain starts over.' },
    REMOVED: { description: 'No longer served; the hostname is free.' },
  },
});

@ObjectType('DomainVerification', { description: 'How to prove ownership of a custom domain.' })
export class DomainVerificationType {
  @Field({ description: 'DNS name of the TXT record: _saldo-challenge.<hostname>.' })
  recordName!: string;

  @Field({ description: 'Always TXT.' })
  recordType!: string;

  @Field({ description: 'The value the TXT record must hold (the token).' })
  recordValue!: string;

  @Field({ description: 'Or, before DNS points at the platform: this URL on your own web server answers the token (HTTP proof).' })
  httpUrl!: string;
}

@ObjectType('DomainCertificate', { description: 'The certificate a custom domain is served with.' })
export class DomainCertificateType {
  @Field({ description: 'Hex serial number.' })
  serial!: string;

  @Field()
  notBefore!: Date;

  @Field({ description: 'Expiry.' })
  notAfter!: Date;

  @Field({ description: "When renewal starts: two thirds into the lifetime, or the CA's suggestion (ARI)." })
  renewAt!: Date;
}

@ObjectType('CustomDomain', { description: 'A hostname a partner serves Saldo under, with automatic TLS.' })
export class CustomDomainType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  partnerId!: string;

  @Field({ description: 'Lower case; internationalized names in their ASCII (punycode) form.' })
  hostname!: string;

  @Field(() => DomainPurpose)
  purpose!: DomainPurpose;

  @Field(() => DomainStatus)
  status!: DomainStatus;

  @Field({ description: 'What the status means for this domain right now, in words.' })
  statusMessage!: string;

  @Field(() => DomainVerificationType)
  verification!: DomainVerificationType;

  @Field(() => String, { nullable: true, description: 'Why the last step failed (verification, issuance, web server); null after a success.' })
  lastError!: string | null;

  @Field(() => String, {
    nullable: true,
    description: 'Stable code of lastError: VERIFICATION_FAILED, RATE_LIMITED, VALIDATION_FAILED, CA_ERROR, WEB_SERVER_REJECTED, ...',
  })
  lastErrorCode!: string | null;

  @Field(() => Date, { nullable: true, description: 'When the next certificate attempt is due (after a rate limit or a failure).' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'Expiry of the certificate being served.' })
  certificateExpiresAt!: Date | null;

  @Field(() => Date, { nullable: true, description: 'When the certificate being served will be renewed.' })
  nextRenewalAt!: Date | null;

  @Field(() => DomainCertificateType, { nullable: true })
  certificate!: DomainCertificateType | null;

  @Field({ description: 'Strict-Transport-Security is sent (from the first successful HTTPS answer on).' })
  hsts!: boolean;

  @Field(() => Date, { nullable: true })
  verifiedAt!: Date | null;

  @Field()
  createdAt!: Date;
}

@InputType('AddCustomDomainInput')
export class AddCustomDomainInput {
  @Field(() => ID)
  partnerId!: string;

  @Field({ description: 'e.g. portal.partner.example: no wildcard, IP address, internal or platform name.' })
  hostname!: string;

  @Field(() => DomainPurpose)
  purpose!: DomainPurpose;
}
