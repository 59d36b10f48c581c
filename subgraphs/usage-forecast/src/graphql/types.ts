import { Directive, Field, ID, Int, ObjectType } from 'type-graphql';
import { ErrorCode, SaldoError } from '@saldo/graphql';
import type { UsageDay } from '../services/usage-service.js';
import { RequiredBalance } from './intelligence-types.js';

const INT_MAX = 2n ** 31n - 1n;

@ObjectType('UsageDay', { description: "A tenant's usage on one UTC calendar day, summed over products." })
export class UsageDayType {
  @Field({ description: 'The UTC calendar day, ISO 8601 (yyyy-mm-dd).' })
  date!: string;

  @Field(() => Int, { description: 'Integer units used that day (minutes, messages), summed over products; 0 on days without usage.' })
  quantity!: number;

  /** GraphQL Int is 32-bit: a day above 2^31-1 units is reported as an error, never wrapped or rounded. */
  static from(day: UsageDay): UsageDayType {
    if (day.quantity > INT_MAX) {
      throw new SaldoError(ErrorCode.Internal, `Usage on ${day.date} (${day.quantity} units) exceeds the range of GraphQL Int.`, {
        date: day.date,
      });
    }
    const type = new UsageDayType();
    type.date = day.date;
    type.quantity = Number(day.quantity);
    return type;
  }
}

/** The tenants subgraph owns Tenant; usage-forecast contributes its daily usage. */
@ObjectType('Tenant')
@Directive('@key(fields: "id")')
export class TenantStub {
  @Field(() => ID)
  id!: string;

  /** Billing's; present in representations when a requested field @requires it (Tenant.forecast). */
  @Field(() => RequiredBalance)
  @Directive('@external')
  balance?: RequiredBalance | null;
}
