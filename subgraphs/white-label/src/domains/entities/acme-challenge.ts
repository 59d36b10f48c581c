import { OptionalProps } from '@mikro-orm/core';
import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * An http-01 challenge being answered: any white-label instance behind the web server answers
 * `GET /.well-known/acme-challenge/<token>` from this table, whichever instance placed the order.
 */
@Entity({ tableName: 'acme_challenge' })
@Index({ properties: ['expiresAt'] })
export class AcmeChallenge {
  [OptionalProps]?: 'createdAt';

  @PrimaryKey({ type: 'text' })
  token!: string;

  @Property({ type: 'text' })
  hostname!: string;

  @Property({ type: 'text' })
  keyAuthorization!: string;

  @Property({ type: 'timestamptz' })
  expiresAt!: Date;

  @Property({ type: 'timestamptz' })
  createdAt: Date = new Date();
}
