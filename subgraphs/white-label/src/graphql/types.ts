import { Directive, Field, ID, InputType, ObjectType, registerEnumType } from 'type-graphql';
import { BrandingSource } from '../domain/branding.js';

registerEnumType(BrandingSource, {
  name: 'BrandingSource',
  description: 'The most specific level that set any branding field.',
  valuesConfig: {
    TENANT: { description: 'The tenant set at least one field itself.' },
    PARTNER: { description: 'The tenant set nothing; its partner set at least one field.' },
    PLATFORM: { description: 'Neither set anything: the platform default applies in full.' },
  },
});

@ObjectType('Branding', {
  description:
    'How the portal, e-mails and documents look for a tenant or partner. Resolved per field: ' + 'tenant value, else partner value, else platform default.',
})
export class BrandingType {
  @Field({ description: 'Product name shown instead of "Saldo".' })
  displayName!: string;

  @Field({ description: 'Hex color #RRGGBB, upper case.' })
  primaryColor!: string;

  @Field({ description: 'Hex color #RRGGBB, upper case.' })
  accentColor!: string;

  @Field(() => String, { nullable: true, description: 'https URL of the logo; null shows the product name only.' })
  logoUrl!: string | null;

  @Field(() => String, { nullable: true })
  supportEmail!: string | null;

  @Field(() => BrandingSource, { description: 'Which level decided: the most specific level that set any field.' })
  source!: BrandingSource;
}

// Entity stubs of the entities the tenants subgraph owns (its classes are TenantType, PartnerType). As in every
// subgraph: the stub is `<Entity>Stub`, the resolver adding this subgraph's fields to it `<Entity><Capability>Resolver`.

@ObjectType('Partner')
@Directive('@key(fields: "id")')
export class PartnerStub {
  @Field(() => ID)
  id!: string;

  // branding: resolved by PartnerBrandingResolver.
}

@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class TenantStub {
  @Field(() => ID)
  id!: string;

  /** Owned by the tenants subgraph; arrives in the representation because Tenant.branding requires it. */
  @Field(() => PartnerStub, { nullable: true })
  @Directive('@external')
  partner!: PartnerStub | null;

  // branding: resolved by TenantBrandingResolver.
}

@InputType('BrandingInput', { description: 'Branding fields to change: an omitted field stays as it is, null clears it (inherit again).' })
export class BrandingInput {
  @Field(() => String, { nullable: true, description: '1 to 100 characters.' })
  displayName?: string | null;

  @Field(() => String, { nullable: true, description: 'Hex color #RRGGBB (any case; stored upper case).' })
  primaryColor?: string | null;

  @Field(() => String, { nullable: true, description: 'Hex color #RRGGBB (any case; stored upper case).' })
  accentColor?: string | null;

  @Field(() => String, { nullable: true, description: 'Absolute https:// URL, at most 2048 characters.' })
  logoUrl?: string | null;

  @Field(() => String, { nullable: true })
  supportEmail?: string | null;
}
