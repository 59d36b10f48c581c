import {
  Arg,
  Ctx,
  Field,
  FieldResolver,
  ID,
  InputType,
  Int,
  Mutation,
  ObjectType,
  Query,
  Resolver,
  Root,
  Subscription,
  registerEnumType,
  type SubscribeResolverData,
} from 'type-graphql';
import { ErrorCode, MoneyInput, MoneyType, SaldoError, assertUuid } from '@saldo/graphql';
import { Money } from '@saldo/money';
import type { Partner } from '../entities/partner.js';
import type { Tenant } from '../entities/tenant.js';
import type { TenantsContext } from '../graphql/context.js';
import { PartnerType, TenantType } from '../graphql/types.js';
import { isActiveSecret, type EndpointRecord } from './delivery/endpoints.js';
import type { DeliveryStatus } from './delivery/store.js';
import type { AttemptRecord, DeliveryRecord } from './endpoint-service.js';
import type { NotificationView } from './feed.js';
import { recentNotifications } from './feed.js';
import { WEBHOOK_EVENT_TYPES } from './kinds.js';
import type { NotificationSettingsRecord } from './settings-service.js';

export enum NotificationLanguage {
  EN = 'EN',
  DE = 'DE',
}
registerEnumType(NotificationLanguage, { name: 'NotificationLanguage', description: 'Language of notification mail and texts.' });

export enum WebhookDeliveryStatus {
  PENDING = 'PENDING',
  SENDING = 'SENDING',
  DELIVERED = 'DELIVERED',
  FAILED = 'FAILED',
  CANCELLED = 'CANCELLED',
}
registerEnumType(WebhookDeliveryStatus, {
  name: 'WebhookDeliveryStatus',
  valuesConfig: {
    PENDING: { description: 'Waiting for its (next) attempt.' },
    SENDING: { description: 'Being sent now.' },
    DELIVERED: { description: 'The receiver answered 2xx.' },
    FAILED: { description: 'Still failing after the retry window (3 days); the endpoint was disabled.' },
    CANCELLED: { description: 'Not sent: the endpoint was disabled or deleted before its turn.' },
  },
});

@ObjectType('NotificationSettings', { description: 'Who is told what, and how: per tenant.' })
export class NotificationSettingsType {
  @Field(() => NotificationLanguage)
  language!: NotificationLanguage;

  @Field(() => [String], { description: 'Addresses that receive notification mail.' })
  recipients!: string[];

  @Field(() => [MoneyType], { description: 'Balances (tenant currency) below which a low-balance notification goes out, once per crossing.' })
  lowBalanceThresholds!: MoneyType[];

  @Field(() => Int, {
    nullable: true,
    description: 'Forecasts: notify when the balance is expected to last at most this many days (null: whenever the forecast warns).',
  })
  runwayDaysThreshold!: number | null;

  @Field(() => [String], { description: 'Kinds (event types) sent by mail.' })
  emailKinds!: string[];

  @Field(() => [String], { description: 'Kinds shown live (Subscription.notificationReceived) and kept in Tenant.notifications.' })
  liveKinds!: string[];

  @Field(() => Date, { nullable: true, description: 'Null while the defaults apply.' })
  updatedAt!: Date | null;

  static from(record: NotificationSettingsRecord): NotificationSettingsType {
    return Object.assign(new NotificationSettingsType(), {
      language: record.language === 'de' ? NotificationLanguage.DE : NotificationLanguage.EN,
      recipients: record.recipients,
      lowBalanceThresholds: record.lowBalanceThresholdsMinor.map((amount) => MoneyType.from(Money.of(amount, record.currency))),
      runwayDaysThreshold: record.runwayDays,
      emailKinds: record.emailKinds,
      liveKinds: record.liveKinds,
      updatedAt: record.updatedAt,
    });
  }
}

@InputType('NotificationSettingsInput', { description: 'Fields to change; omitted fields stay as they are.' })
export class NotificationSettingsInput {
  @Field(() => NotificationLanguage, { nullable: true })
  language?: NotificationLanguage;

  @Field(() => [String], { nullable: true, description: 'At most 20 addresses (INVALID_EMAIL).' })
  recipients?: string[];

  @Field(() => [MoneyInput], { nullable: true, description: "At most 5, positive, in the tenant's currency (INVALID_CURRENCY)." })
  lowBalanceThresholds?: MoneyInput[];

  @Field(() => Int, { nullable: true, description: '1 to 90 days; null: every forecast warning.' })
  runwayDaysThreshold?: number | null;

  @Field(() => [String], { nullable: true, description: 'Kinds to mail (UNKNOWN_EVENT_TYPE for others).' })
  emailKinds?: string[];

  @Field(() => [String], { nullable: true })
  liveKinds?: string[];
}

@ObjectType('WebhookDeliveryAttempt')
export class WebhookDeliveryAttemptType {
  @Field(() => Int)
  attempt!: number;

  @Field()
  attemptedAt!: Date;

  @Field(() => Int)
  durationMs!: number;

  @Field()
  succeeded!: boolean;

  @Field(() => Int, { nullable: true, description: 'HTTP status; null when no response arrived.' })
  responseCode!: number | null;

  @Field(() => String, { nullable: true })
  error!: string | null;
}

@ObjectType('WebhookDelivery', { description: 'One event sent to one endpoint: its state and attempt log.' })
export class WebhookDeliveryType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID, { description: 'The event id, also the webhook-id header (the same on every attempt).' })
  eventId!: string;

  @Field()
  eventType!: string;

  @Field(() => ID, { nullable: true })
  tenantId!: string | null;

  @Field(() => WebhookDeliveryStatus)
  status!: WebhookDeliveryStatus;

  @Field(() => Int)
  attempts!: number;

  @Field(() => Int, { nullable: true, description: 'HTTP status of the last attempt.' })
  responseCode!: number | null;

  @Field(() => String, { nullable: true })
  lastError!: string | null;

  @Field(() => Date, { nullable: true, description: 'When the next attempt is due (open deliveries).' })
  nextAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  lastAttemptAt!: Date | null;

  @Field(() => Date, { nullable: true })
  deliveredAt!: Date | null;

  @Field()
  createdAt!: Date;

  /** Not a field: where the attempt log is read. */
  record!: DeliveryRecord;

  static from(record: DeliveryRecord): WebhookDeliveryType {
    return Object.assign(new WebhookDeliveryType(), { ...record, status: record.status as WebhookDeliveryStatus, record });
  }
}

@ObjectType('WebhookEndpoint', { description: 'Where signed webhooks (Standard Webhooks) go. The secret is only returned at creation and rotation.' })
export class WebhookEndpointType {
  @Field(() => ID)
  id!: string;

  @Field()
  url!: string;

  @Field(() => String, { nullable: true })
  description!: string | null;

  @Field(() => [String], { description: 'Event types it receives; empty: all (see Query.webhookEventTypes).' })
  eventTypes!: string[];

  @Field({ description: 'False when disabled by its owner or after persistent failure.' })
  enabled!: boolean;

  @Field(() => String, { nullable: true })
  disabledReason!: string | null;

  @Field(() => Date, { nullable: true })
  disabledAt!: Date | null;

  @Field(() => Int, { description: "Secrets signing now (2 during a rotation's overlap)." })
  activeSecrets!: number;

  @Field()
  createdAt!: Date;

  @Field()
  updatedAt!: Date;

  record!: EndpointRecord;

  static from(record: EndpointRecord): WebhookEndpointType {
    const now = new Date();
    return Object.assign(new WebhookEndpointType(), {
      ...record,
      activeSecrets: record.secrets.filter((secret) => isActiveSecret(secret, now)).length,
      record,
    });
  }
}

@ObjectType('IssuedWebhookEndpoint')
export class IssuedWebhookEndpointType {
  @Field(() => WebhookEndpointType)
  endpoint!: WebhookEndpointType;

  @Field({ description: 'The signing secret (whsec_...). Shown once: store it now.' })
  secret!: string;
}

@InputType('CreateWebhookEndpointInput', { description: "Exactly one of tenantId and partnerId: whose events it receives (a partner's: all its tenants')." })
export class CreateWebhookEndpointInput {
  @Field(() => ID, { nullable: true })
  tenantId?: string | null;

  @Field(() => ID, { nullable: true })
  partnerId?: string | null;

  @Field({ description: 'https URL of a public host (INVALID_URL, URL_NOT_ALLOWED).' })
  url!: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [String], { nullable: true, description: 'Event types (UNKNOWN_EVENT_TYPE for others); omitted or empty: all.' })
  eventTypes?: string[] | null;
}

@InputType('UpdateWebhookEndpointInput', { description: 'Fields to change; `enabled: true` re-enables a disabled endpoint.' })
export class UpdateWebhookEndpointInput {
  @Field(() => String, { nullable: true })
  url?: string;

  @Field(() => String, { nullable: true })
  description?: string | null;

  @Field(() => [String], { nullable: true })
  eventTypes?: string[];

  @Field(() => Boolean, { nullable: true })
  enabled?: boolean;
}

@ObjectType('Notification', { description: 'Something a tenant was told (live, by mail, by webhook).' })
export class NotificationType {
  @Field(() => ID)
  id!: string;

  @Field(() => ID)
  tenantId!: string;

  @Field({ description: 'The event type, e.g. balance.low.' })
  kind!: string;

  @Field({ description: "In the tenant's language." })
  title!: string;

  @Field()
  body!: string;

  @Field({ description: "The event's payload as JSON text." })
  dataJson!: string;

  @Field(() => ID)
  eventId!: string;

  @Field()
  createdAt!: Date;

  static from(view: NotificationView): NotificationType {
    return Object.assign(new NotificationType(), { ...view, dataJson: JSON.stringify(view.data) });
  }
}

/** The caller may change the endpoint (its tenant's write scope, or the partner itself); otherwise it does not exist. */
async function requireEndpointOwner(ctx: TenantsContext, endpoint: EndpointRecord | null, id: string): Promise<EndpointRecord> {
  ctx.scope.requireAuthenticated();
  const allowed =
    endpoint !== null &&
    (endpoint.ownerType === 'TENANT'
      ? await ctx.scope.allows(endpoint.ownerId, 'write')
      : ctx.identity.role === 'platform-admin' || (ctx.identity.role === 'partner' && ctx.identity.partnerId === endpoint.ownerId));
  if (!allowed) throw new SaldoError(ErrorCode.NotFound, `No webhook endpoint with id ${id}.`, { field: 'id' });
  return endpoint;
}

@Resolver(() => WebhookEndpointType)
export class NotificationResolver {
  @Query(() => [String], { description: 'Event types webhook endpoints can receive (payloads carry `type` and `version`).' })
  webhookEventTypes(): string[] {
    return [...WEBHOOK_EVENT_TYPES];
  }

  @Mutation(() => NotificationSettingsType, { description: "Changes a tenant's notification settings (tenant write scope)." })
  async setNotificationSettings(
    @Arg('tenantId', () => ID) tenantId: string,
    @Arg('input', () => NotificationSettingsInput) input: NotificationSettingsInput,
    @Ctx() ctx: TenantsContext,
  ): Promise<NotificationSettingsType> {
    assertUuid(tenantId, 'tenantId');
    await ctx.scope.requireTenant(tenantId, 'write');
    return NotificationSettingsType.from(await ctx.services.notifications.settings.set(tenantId, input));
  }

  @Mutation(() => IssuedWebhookEndpointType, { description: 'Registers a webhook endpoint; the signing secret is in this response only.' })
  async createWebhookEndpoint(
    @Arg('input', () => CreateWebhookEndpointInput) input: CreateWebhookEndpointInput,
    @Ctx() ctx: TenantsContext,
  ): Promise<IssuedWebhookEndpointType> {
    if (input.tenantId) {
      assertUuid(input.tenantId, 'tenantId');
      await ctx.scope.requireTenant(input.tenantId, 'write');
    } else if (input.partnerId) {
      assertUuid(input.partnerId, 'partnerId');
      ctx.scope.requirePartner(input.partnerId);
    } else {
      ctx.scope.requireAuthenticated();
    }
    const issued = await ctx.services.notifications.endpoints.create(input);
    return { endpoint: WebhookEndpointType.from(issued.endpoint), secret: issued.secret };
  }

  @Mutation(() => WebhookEndpointType)
  async updateWebhookEndpoint(
    @Arg('id', () => ID) id: string,
    @Arg('input', () => UpdateWebhookEndpointInput) input: UpdateWebhookEndpointInput,
    @Ctx() ctx: TenantsContext,
  ): Promise<WebhookEndpointType> {
    const endpoints = ctx.services.notifications.endpoints;
    await requireEndpointOwner(ctx, await endpoints.get(assertUuid(id, 'id')), id);
    return WebhookEndpointType.from(await endpoints.update(id, input));
  }

  @Mutation(() => Boolean)
  async deleteWebhookEndpoint(@Arg('id', () => ID) id: string, @Ctx() ctx: TenantsContext): Promise<boolean> {
    const endpoints = ctx.services.notifications.endpoints;
    await requireEndpointOwner(ctx, await endpoints.get(assertUuid(id, 'id')), id);
    return endpoints.delete(id);
  }

  @Mutation(() => IssuedWebhookEndpointType, {
    description: 'A new signing secret; the old one keeps signing beside it for overlapSeconds (default a day, at most 7 days).',
  })
  async rotateWebhookSecret(
    @Arg('id', () => ID) id: string,
    @Ctx() ctx: TenantsContext,
    @Arg('overlapSeconds', () => Int, { nullable: true, defaultValue: 86_400 }) overlapSeconds: number,
  ): Promise<IssuedWebhookEndpointType> {
    const endpoints = ctx.services.notifications.endpoints;
    await requireEndpointOwner(ctx, await endpoints.get(assertUuid(id, 'id')), id);
    const issued = await endpoints.rotateSecret(id, overlapSeconds);
    return { endpoint: WebhookEndpointType.from(issued.endpoint), secret: issued.secret };
  }

  @Mutation(() => WebhookDeliveryType, {
    description: 'Sends one webhook delivery again now (same webhook-id), whatever its state; returns it after the attempt.',
  })
  async redeliverWebhook(@Arg('deliveryId', () => ID) deliveryId: string, @Ctx() ctx: TenantsContext): Promise<WebhookDeliveryType> {
    const endpoints = ctx.services.notifications.endpoints;
    const delivery = await endpoints.findDelivery(deliveryId);
    const endpoint = delivery?.endpointId ? await endpoints.get(delivery.endpointId) : null;
    const notFound = () => new SaldoError(ErrorCode.NotFound, `No webhook delivery with id ${deliveryId}.`, { field: 'deliveryId' });
    if (!delivery) throw notFound();
    try {
      await requireEndpointOwner(ctx, endpoint, delivery.endpointId ?? deliveryId);
    } catch {
      throw notFound();
    }
    return WebhookDeliveryType.from(await endpoints.redeliver(delivery));
  }

  @FieldResolver(() => [WebhookDeliveryType], { description: 'The delivery log, newest first.' })
  async deliveries(
    @Root() endpoint: WebhookEndpointType,
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: '1 to 100.' }) first: number,
    @Arg('status', () => WebhookDeliveryStatus, { nullable: true }) status?: WebhookDeliveryStatus | null,
  ): Promise<WebhookDeliveryType[]> {
    if (!Number.isInteger(first) || first < 1 || first > 100) throw new SaldoError(ErrorCode.BadUserInput, 'first: must be 1 to 100', { field: 'first' });
    const records = await ctx.services.notifications.endpoints.deliveries(endpoint.record, first, (status ?? null) as DeliveryStatus | null);
    return records.map((record) => WebhookDeliveryType.from(record));
  }
}

@Resolver(() => WebhookDeliveryType)
export class WebhookDeliveryResolver {
  @FieldResolver(() => [WebhookDeliveryAttemptType], { description: 'Every attempt: time, duration, HTTP status, error.' })
  async attemptLog(@Root() delivery: WebhookDeliveryType, @Ctx() ctx: TenantsContext): Promise<AttemptRecord[]> {
    return ctx.services.notifications.endpoints.attempts(delivery.record);
  }
}

@Resolver(() => TenantType)
export class NotificationTenantResolver {
  @FieldResolver(() => NotificationSettingsType, { description: 'Notification settings (defaults until changed).' })
  async notificationSettings(@Root() tenant: Tenant, @Ctx() ctx: TenantsContext): Promise<NotificationSettingsType> {
    await ctx.scope.requireTenant(tenant.id, 'read');
    const loader = ctx.loader<string, NotificationSettingsRecord | null>('notificationSettings', (ids) => ctx.services.notifications.settings.getMany(ids));
    const record = await loader.load(tenant.id);
    if (!record) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${tenant.id}.`);
    return NotificationSettingsType.from(record);
  }

  @FieldResolver(() => [WebhookEndpointType], { description: "The tenant's own webhook endpoints." })
  async webhookEndpoints(@Root() tenant: Tenant, @Ctx() ctx: TenantsContext): Promise<WebhookEndpointType[]> {
    await ctx.scope.requireTenant(tenant.id, 'read');
    return (await ctx.services.notifications.endpoints.ofTenant(tenant.id)).map((record) => WebhookEndpointType.from(record));
  }

  @FieldResolver(() => [NotificationType], { description: 'Recorded notifications, newest first.' })
  async notifications(
    @Root() tenant: Tenant,
    @Ctx() ctx: TenantsContext,
    @Arg('first', () => Int, { nullable: true, defaultValue: 20, description: '1 to 100.' }) first: number,
  ): Promise<NotificationType[]> {
    await ctx.scope.requireTenant(tenant.id, 'read');
    if (!Number.isInteger(first) || first < 1 || first > 100) throw new SaldoError(ErrorCode.BadUserInput, 'first: must be 1 to 100', { field: 'first' });
    const views = await recentNotifications(ctx.services.notifications.db, tenant.id, first, ctx.scope.isPlatformAdmin);
    return views.map((view) => NotificationType.from(view));
  }
}

@Resolver(() => PartnerType)
export class NotificationPartnerResolver {
  @FieldResolver(() => [WebhookEndpointType], { description: "The partner's webhook endpoints (events of all its tenants)." })
  async webhookEndpoints(@Root() partner: Partner, @Ctx() ctx: TenantsContext): Promise<WebhookEndpointType[]> {
    ctx.scope.requirePartner(partner.id);
    return (await ctx.services.notifications.endpoints.ofPartner(partner.id)).map((record) => WebhookEndpointType.from(record));
  }
}

@Resolver(() => NotificationType)
export class NotificationSubscriptionResolver {
  @Subscription(() => NotificationType, {
    description: "A tenant's notifications as they are recorded (kinds in its liveKinds). Same scope as reading the tenant.",
    subscribe: async ({ args, context }: SubscribeResolverData<unknown, { tenantId: string }, TenantsContext>) => {
      const tenantId = assertUuid(args.tenantId, 'tenantId');
      await context.scope.requireTenant(tenantId, 'read');
      if (!(await context.services.tenants.get(tenantId))) throw new SaldoError(ErrorCode.TenantNotFound, `No tenant with id ${tenantId}.`);
      return context.services.notifications.feed.open(tenantId, context.scope.isPlatformAdmin);
    },
  })
  notificationReceived(@Root() view: NotificationView, @Arg('tenantId', () => ID) _tenantId: string): NotificationType {
    return NotificationType.from(view);
  }
}
