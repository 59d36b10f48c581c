import { Directive, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { connectionType, type Connection } from '@saldo/graphql';
import { TenantStatus } from '../entities/tenant.js';

registerEnumType(TenantStatus, { name: 'TenantStatus', description: 'Lifecycle state of a tenant.' });

@ObjectType('Address')
export class AddressType {
  @Field()
  line1!: string;

  @Field(() => String, { nullable: true })
  line2!: string | null;

  @Field()
  postalCode!: string;

  @Field()
  city!: string;

  @Field(() => String, { nullable: true })
  region!: string | null;
}

@ObjectType('Partner', { description: 'A reseller offering Saldo under its own brand to its tenants.' })
@Directive('@key(fields: "id")')
export class PartnerType {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  legalName!: string | null;

  @Field({ description: 'ISO 3166-1 alpha-2 country code.' })
  country!: string;

  @Field(() => String, { nullable: true })
  contactEmail!: string | null;

  @Field(() => SellerProfileType, {
    nullable: true,
    description:
      "Set when the partner resells as seller of record: its tenants' invoices, credit notes and statements are issued in its name (platform admins and the partner see it).",
  })
  sellerProfile!: SellerProfileType | null;

  @Field()
  createdAt!: Date;
}

@ObjectType('Tenant', { description: 'A customer with a prepaid balance.' })
@Directive('@key(fields: "id")')
export class TenantType {
  @Field(() => ID)
  id!: string;

  @Field()
  name!: string;

  @Field(() => String, { nullable: true })
  legalName!: string | null;

  @Field(() => AddressType, { nullable: true })
  address!: AddressType | null;

  @Field({ description: 'ISO 3166-1 alpha-2 country code.' })
  country!: string;

  @Field(() => String, { nullable: true, description: 'VAT identification number, normalized (e.g. DE123456789).' })
  vatId!: string | null;

  @Field({ description: "ISO 4217 currency of the tenant's balance; fixed at creation." })
  currency!: string;

  @Field(() => TenantStatus)
  status!: TenantStatus;

  @Field(() => Date, { nullable: true })
  suspendedAt!: Date | null;

  @Field(() => String, { nullable: true })
  suspensionReason!: string | null;

  /** Resolved by a field resolver from partnerId. */
  partnerId!: string | null;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;
}

export const TenantConnection = connectionType('Tenant', TenantType);
export type TenantConnection = Connection<TenantType>;

export const PartnerConnection = connectionType('Partner', PartnerType);
export type PartnerConnection = Connection<PartnerType>;

@InputType('AddressInput')
export class AddressInput {
  @Field()
  line1!: string;

  @Field(() => String, { nullable: true })
  line2?: string | null;

  @Field()
  postalCode!: string;

  @Field()
  city!: string;

  @Field(() => String, { nullable: true })
  region?: string | null;
}

@InputType('CreateTenantInput')
export class CreateTenantInput {
  @Field()
  name!: string;

  @Field({ description: 'ISO 4217 currency code of the balance, e.g. EUR.' })
  currency!: string;

  @Field({ description: 'ISO 3166-1 alpha-2 country code, e.g. DE.' })
  country!: string;

  @Field(() => String, { nullable: true, description: "VAT id; checked against the country's format." })
  vatId?: string | null;

  @Field(() => ID, { nullable: true })
  partnerId?: string | null;

  @Field(() => String, { nullable: true })
  legalName?: string | null;

  @Field(() => AddressInput, { nullable: true })
  address?: AddressInput | null;
}

@InputType('UpdateTenantInput', { description: 'Fields to change; omitted fields stay as they are, null clears an optional one.' })
export class UpdateTenantInput {
  @Field(() => String, { nullable: true })
  name?: string;

  @Field(() => String, { nullable: true })
  legalName?: string | null;

  @Field(() => AddressInput, { nullable: true })
  address?: AddressInput | null;

  @Field(() => String, { nullable: true })
  country?: string;

  @Field(() => String, { nullable: true })
  vatId?: string | null;
}

@InputType('CreatePartnerInput')
export class CreatePartnerInput {
  @Field()
  name!: string;

  @Field()
  country!: string;

  @Field(() => String, { nullable: true })
  legalName?: string | null;

  @Field(() => String, { nullable: true })
  contactEmail?: string | null;
}

@ObjectType('ApiKey', { description: 'A partner API key. The secret is only ever returned once, when the key is issued.' })
export class ApiKeyType {
  @Field(() => ID, { description: 'Public key id (the part after saldo_pk_).' })
  id!: string;

  @Field()
  name!: string;

  @Field()
  createdAt!: Date;

  @Field(() => Date, { nullable: true, description: 'After a rotation with grace period: when this key stops working.' })
  expiresAt!: Date | null;

  @Field(() => Date, { nullable: true })
  revokedAt!: Date | null;

  @Field(() => ID, { nullable: true, description: 'The key that replaced this one.' })
  replacedBy!: string | null;

  @Field({ description: 'Whether the key authenticates requests now.' })
  active!: boolean;
}

@ObjectType('IssuedApiKey')
export class IssuedApiKeyType {
  @Field(() => ApiKeyType)
  apiKey!: ApiKeyType;

  @Field({ description: 'The full key, `saldo_pk_...`. Shown once: store it now, Saldo keeps only a hash.' })
  secret!: string;
}

@ObjectType('SellerAddress')
export class SellerAddressType {
  @Field() line1!: string;
  @Field(() => String, { nullable: true }) line2!: string | null;
  @Field() postalCode!: string;
  @Field() city!: string;
}

@ObjectType('SellerProfile', { description: 'A seller of record: what § 14 UStG requires on its invoices, and where customers pay.' })
export class SellerProfileType {
  @Field() legalName!: string;
  @Field(() => SellerAddressType) address!: SellerAddressType;
  @Field({ description: 'ISO 3166-1 alpha-2 of an EU member state.' }) country!: string;
  @Field(() => String, { nullable: true }) vatId!: string | null;
  @Field(() => String, { nullable: true, description: 'Steuernummer.' }) taxNumber!: string | null;
  @Field(() => String, { nullable: true, description: 'Commercial register entry.' }) registration!: string | null;
  @Field(() => String, { nullable: true }) managingDirectors!: string | null;
  @Field() email!: string;
  @Field() phone!: string;
  @Field() contactName!: string;
  @Field(() => String, { nullable: true }) website!: string | null;
  @Field() iban!: string;
  @Field(() => String, { nullable: true }) bic!: string | null;
  @Field(() => String, { nullable: true }) bankName!: string | null;
}

@InputType()
export class SellerAddressInput {
  @Field() line1!: string;
  @Field(() => String, { nullable: true }) line2?: string | null;
  @Field() postalCode!: string;
  @Field() city!: string;
}

@InputType()
export class SellerProfileInput {
  @Field() legalName!: string;
  @Field(() => SellerAddressInput) address!: SellerAddressInput;
  @Field() country!: string;
  @Field(() => String, { nullable: true }) vatId?: string | null;
  @Field(() => String, { nullable: true }) taxNumber?: string | null;
  @Field(() => String, { nullable: true }) registration?: string | null;
  @Field(() => String, { nullable: true }) managingDirectors?: string | null;
  @Field() email!: string;
  @Field() phone!: string;
  @Field() contactName!: string;
  @Field(() => String, { nullable: true }) website?: string | null;
  @Field() iban!: string;
  @Field(() => String, { nullable: true }) bic?: string | null;
  @Field(() => String, { nullable: true }) bankName?: string | null;
}
