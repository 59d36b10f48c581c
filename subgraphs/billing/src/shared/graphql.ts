import { Directive, Field, ID, ObjectType } from 'type-graphql';
import { MoneyInput, assertUuid, type RequestContext } from '@saldo/graphql';

/** Money as input: shared with every subgraph (packages/graphql), identical in each as composition requires. */
export { MoneyInput };

/**
 * The tenants subgraph owns Tenant; billing's modules contribute fields to it (balance, ledger, overdraft policy,
 * auto-top-up, ...). Every module's Tenant field resolvers hang off this one stub.
 */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class TenantStub {
  @Field(() => ID)
  id!: string;

  @Field()
  @Directive('@external')
  currency!: string;
}

/** Entity references to Tenant, whichever module's fields they are for. */
export const referenceResolvers = {
  // The representation carries id and the @requires'd currency; fields load in batches (and check scope again).
  // A tenant outside the caller's scope resolves to null, exactly like a missing one.
  Tenant: async (reference: { id: string; currency?: string }, ctx: RequestContext) => {
    ctx.scope.requireAuthenticated();
    return (await ctx.scope.allows(assertUuid(String(reference.id), 'id'), 'read')) ? reference : null;
  },
};
