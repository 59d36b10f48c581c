import { GraphQLError, GraphQLScalarType, Kind } from 'graphql';
import { Directive, Field, InputType, ObjectType } from 'type-graphql';
import { Money } from '@saldo/money';

/**
 * Integer minor units (cents for EUR, yen for JPY). Serialized as a JSON number, exact up to 2^53-1
 * minor units (90 trillion EUR); beyond that it refuses rather than rounds.
 */
export const MinorUnitsScalar = new GraphQLScalarType({
  name: 'MinorUnits',
  description: "An exact integer amount in the currency's minor units (e.g. cents). Never a float.",
  serialize(value) {
    const bigint = typeof value === 'bigint' ? value : typeof value === 'string' && /^-?\d+$/.test(value) ? BigInt(value) : null;
    if (bigint === null && typeof value === 'number' && Number.isSafeInteger(value)) return value;
    if (bigint === null) throw new GraphQLError(`MinorUnits cannot represent ${String(value)}`);
    if (bigint > BigInt(Number.MAX_SAFE_INTEGER) || bigint < BigInt(Number.MIN_SAFE_INTEGER)) {
      throw new GraphQLError('MinorUnits value exceeds the exact JSON integer range');
    }
    return Number(bigint);
  },
  parseValue(value) {
    if (typeof value === 'number' && Number.isSafeInteger(value)) return BigInt(value);
    if (typeof value === 'string' && /^-?\d{1,16}$/.test(value)) return BigInt(value);
    throw new GraphQLError('MinorUnits must be an integer number of minor units', { extensions: { code: 'BAD_USER_INPUT' } });
  },
  parseLiteral(ast) {
    if (ast.kind === Kind.INT) {
      const parsed = BigInt(ast.value);
      if (parsed <= BigInt(Number.MAX_SAFE_INTEGER) && parsed >= BigInt(Number.MIN_SAFE_INTEGER)) return parsed;
    }
    throw new GraphQLError('MinorUnits must be an integer number of minor units', { extensions: { code: 'BAD_USER_INPUT' } });
  },
});

@ObjectType('Money', { description: 'An amount of money: integer minor units and an ISO 4217 currency code.' })
@Directive('@shareable')
export class MoneyType {
  @Field(() => MinorUnitsScalar)
  amountMinor!: bigint;

  @Field({ description: 'ISO 4217 currency code, e.g. EUR.' })
  currency!: string;

  static from(money: Money): MoneyType {
    const type = new MoneyType();
    type.amountMinor = money.amountMinor;
    type.currency = money.currency;
    return type;
  }
}

/** Shared by every subgraph that takes money as input (identical in each, as composition requires). */
@InputType('MoneyInput', { description: 'An amount of money: integer minor units and an ISO 4217 currency code.' })
export class MoneyInput {
  @Field(() => MinorUnitsScalar)
  amountMinor!: bigint;

  @Field()
  currency!: string;
}

@ObjectType('PageInfo')
@Directive('@shareable')
export class PageInfo {
  @Field()
  hasNextPage!: boolean;

  @Field(() => String, { nullable: true, description: 'Pass as `after` to fetch the next page.' })
  endCursor!: string | null;
}

/** The node-and-cursor pair of a connection. */
export interface Edge<T> {
  node: T;
  cursor: string;
}

/** A Relay-style connection: what `toConnection` builds. */
export interface Connection<T> {
  edges: Array<Edge<T>>;
  pageInfo: PageInfo;
}

/**
 * Declares `<name>Edge { node cursor }` and `<name>Connection { edges pageInfo }` for a node type, so every
 * paginated list in every subgraph has the same shape.
 */
export function connectionType<T>(name: string, node: new () => T): new () => Connection<T> {
  @ObjectType(`${name}Edge`)
  class EdgeType {
    @Field(() => node)
    node!: T;

    @Field(() => String)
    cursor!: string;
  }

  @ObjectType(`${name}Connection`)
  class ConnectionType {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }

  return ConnectionType;
}
