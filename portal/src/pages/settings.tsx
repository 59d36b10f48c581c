import { useEffect, useState, type FormEvent } from 'react';
import { formatDateTime, minorToInput, parseMoney } from '../format';
import {
  CreateWebhookEndpointDocument,
  DeleteWebhookEndpointDocument,
  RedeliverWebhookDocument,
  RotateWebhookSecretDocument,
  SaveNotificationSettingsDocument,
  SetWebhookEndpointEnabledDocument,
  TenantSettingsDocument,
  type NotificationLanguage,
  type TenantSettingsQuery,
} from '../generated/graphql';
import { asRequestError, useQuery, type GraphQLClient } from '../graphql';
import { errorText, useI18n } from '../i18n';
import { ErrorState, Loading } from './states';

type Tenant = NonNullable<TenantSettingsQuery['tenant']>;
type Endpoint = Tenant['webhookEndpoints'][number];
type Message = { kind: 'ok' | 'error'; text: string } | undefined;

/** Notification settings (language, recipients, low-balance threshold, runway) and the tenant's webhook endpoints. */
export function SettingsPage({ client, tenantId }: { client: GraphQLClient; tenantId: string }) {
  const { t } = useI18n();
  const query = useQuery(client, TenantSettingsDocument, { tenantId });
  if (query.loading && !query.data) return <Loading />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const tenant = query.data?.tenant;
  if (!tenant) return <p role="alert">{t('notFound')}</p>;
  return (
    <>
      <h1>{t('settings.title')}</h1>
      <NotificationForm client={client} tenant={tenant} />
      <Webhooks client={client} tenant={tenant} eventTypes={query.data?.webhookEventTypes ?? []} refetch={() => void query.refetch()} />
    </>
  );
}

function Feedback({ message }: { message: Message }) {
  if (!message) return null;
  return (
    <p className={message.kind === 'error' ? 'error' : 'notice'} role={message.kind === 'error' ? 'alert' : 'status'}>
      {message.text}
    </p>
  );
}

function NotificationForm({ client, tenant }: { client: GraphQLClient; tenant: Tenant }) {
  const { t } = useI18n();
  const settings = tenant.notificationSettings;
  const [language, setLanguage] = useState<NotificationLanguage>(settings.language);
  const [recipients, setRecipients] = useState(settings.recipients.join(', '));
  const [threshold, setThreshold] = useState(
    settings.lowBalanceThresholds[0] ? minorToInput(settings.lowBalanceThresholds[0].amountMinor, tenant.currency) : '',
  );
  const [runway, setRunway] = useState(settings.runwayDaysThreshold?.toString() ?? '');
  const [message, setMessage] = useState<Message>();
  const [busy, setBusy] = useState(false);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    const thresholdMinor = threshold.trim() ? parseMoney(threshold, tenant.currency) : null;
    if (threshold.trim() && thresholdMinor === null) return setMessage({ kind: 'error', text: t('topUp.invalidAmount') });
    const runwayDays = runway.trim() ? Number(runway) : null;
    if (runwayDays !== null && !(Number.isInteger(runwayDays) && runwayDays > 0)) return setMessage({ kind: 'error', text: t('settings.invalidDays') });
    setBusy(true);
    try {
      await client.request(SaveNotificationSettingsDocument, {
        tenantId: tenant.id,
        input: {
          language,
          recipients: recipients
            .split(/[\s,;]+/)
            .map((value) => value.trim())
            .filter(Boolean),
          lowBalanceThresholds: thresholdMinor === null ? [] : [{ amountMinor: thresholdMinor, currency: tenant.currency }],
          runwayDaysThreshold: runwayDays,
        },
      });
      setMessage({ kind: 'ok', text: t('settings.saved') });
    } catch (caught) {
      setMessage({ kind: 'error', text: errorText(t, asRequestError(caught).code) });
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="notify-title">
      <h2 id="notify-title">{t('settings.notifications')}</h2>
      <form className="form-grid" onSubmit={(event) => void save(event)} noValidate>
        <label htmlFor="notify-language">{t('settings.language')}</label>
        <select id="notify-language" value={language} onChange={(event) => setLanguage(event.target.value as NotificationLanguage)}>
          <option value="EN">English</option>
          <option value="DE">Deutsch</option>
        </select>
        <label htmlFor="notify-recipients">{t('settings.recipients')}</label>
        <input id="notify-recipients" type="text" autoComplete="email" value={recipients} onChange={(event) => setRecipients(event.target.value)} />
        <label htmlFor="notify-threshold">{t('settings.lowBalance', { currency: tenant.currency })}</label>
        <input id="notify-threshold" inputMode="decimal" value={threshold} onChange={(event) => setThreshold(event.target.value)} />
        <label htmlFor="notify-runway">{t('settings.runway')}</label>
        <input id="notify-runway" inputMode="numeric" value={runway} onChange={(event) => setRunway(event.target.value)} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {t('auto.save')}
          </button>
        </div>
      </form>
      <Feedback message={message} />
    </section>
  );
}

function Webhooks({ client, tenant, eventTypes, refetch }: { client: GraphQLClient; tenant: Tenant; eventTypes: string[]; refetch: () => void }) {
  const { t } = useI18n();
  const [url, setUrl] = useState('');
  const [secret, setSecret] = useState<string>();
  const [message, setMessage] = useState<Message>();
  const [busy, setBusy] = useState(false);
  useEffect(() => setSecret(undefined), [tenant.id]);
  const act = async (work: () => Promise<unknown>, ok?: string) => {
    setBusy(true);
    try {
      await work();
      if (ok) setMessage({ kind: 'ok', text: ok });
      refetch();
    } catch (caught) {
      setMessage({ kind: 'error', text: errorText(t, asRequestError(caught).code) });
    } finally {
      setBusy(false);
    }
  };
  const add = (event: FormEvent) => {
    event.preventDefault();
    void act(async () => {
      const { createWebhookEndpoint } = await client.request(CreateWebhookEndpointDocument, { input: { tenantId: tenant.id, url: url.trim() } });
      setSecret(createWebhookEndpoint.secret);
      setUrl('');
    });
  };
  return (
    <section className="card" aria-labelledby="hooks-title">
      <h2 id="hooks-title">{t('settings.webhooks')}</h2>
      {tenant.webhookEndpoints.length === 0 ? (
        <p>{t('settings.noWebhooks')}</p>
      ) : (
        <ul className="plain" data-testid="webhooks">
          {tenant.webhookEndpoints.map((endpoint) => (
            <li key={endpoint.id}>
              <code>{endpoint.url}</code> ·{' '}
              {endpoint.enabled ? t('settings.enabled') : `${t('settings.disabled')}${endpoint.disabledReason ? ` (${endpoint.disabledReason})` : ''}`} ·{' '}
              {endpoint.eventTypes.length ? endpoint.eventTypes.join(', ') : t('settings.allEvents')}
              <div className="row">
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => void act(() => client.request(SetWebhookEndpointEnabledDocument, { id: endpoint.id, enabled: !endpoint.enabled }))}
                >
                  {endpoint.enabled ? t('auto.disable') : t('auto.enable')}
                </button>
                <button
                  type="button"
                  disabled={busy}
                  onClick={() =>
                    void act(async () => {
                      const { rotateWebhookSecret } = await client.request(RotateWebhookSecretDocument, { id: endpoint.id });
                      setSecret(rotateWebhookSecret.secret);
                    }, t('hooks.rotated'))
                  }
                >
                  {t('hooks.rotate')}
                </button>
                <button
                  type="button"
                  disabled={busy}
                  onClick={() => void act(() => client.request(DeleteWebhookEndpointDocument, { id: endpoint.id }), t('settings.deleted'))}
                >
                  {t('settings.delete')}
                </button>
              </div>
              <Deliveries
                endpoint={endpoint}
                busy={busy}
                redeliver={(deliveryId) => void act(() => client.request(RedeliverWebhookDocument, { deliveryId }), t('hooks.redelivered'))}
                refresh={refetch}
              />
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={add} noValidate>
        <label htmlFor="hook-url">{t('settings.webhookUrl')}</label>
        <div className="row">
          <input id="hook-url" type="url" value={url} onChange={(event) => setUrl(event.target.value)} placeholder="https://" />
          <button type="submit" disabled={busy || !url.trim()}>
            {t('settings.addWebhook')}
          </button>
        </div>
        <p className="hint">{t('settings.eventTypes', { types: eventTypes.join(', ') })}</p>
      </form>
      {secret && (
        <p className="notice" role="status">
          {t('settings.secretOnce')} <code data-testid="webhook-secret">{secret}</code>
        </p>
      )}
      <Feedback message={message} />
    </section>
  );
}

/** An endpoint's latest deliveries: status, the receiver's HTTP answer, attempts, and redelivery. */
function Deliveries({ endpoint, busy, redeliver, refresh }: { endpoint: Endpoint; busy: boolean; redeliver: (id: string) => void; refresh: () => void }) {
  const { t, language } = useI18n();
  const caption = t('hooks.deliveries', { url: endpoint.url });
  return (
    <details className="deliveries" data-testid={`deliveries-${endpoint.id}`}>
      <summary>
        {t('hooks.log')} ({endpoint.deliveries.length}) · {t('hooks.secrets', { count: endpoint.activeSecrets })}
      </summary>
      {endpoint.deliveries.length === 0 ? (
        <p>{t('hooks.none')}</p>
      ) : (
        <div className="table-wrap">
          <table className="list">
            <caption className="visually-hidden">{caption}</caption>
            <thead>
              <tr>
                <th scope="col">{t('hooks.event')}</th>
                <th scope="col">{t('tenants.status')}</th>
                <th scope="col">{t('hooks.response')}</th>
                <th scope="col">{t('hooks.attempts')}</th>
                <th scope="col">{t('hooks.last')}</th>
                <th scope="col">
                  <span className="visually-hidden">{t('keys.actions')}</span>
                </th>
              </tr>
            </thead>
            <tbody>
              {endpoint.deliveries.map((delivery) => (
                <tr key={delivery.id}>
                  <td>
                    <code>{delivery.eventType}</code>
                  </td>
                  <td>{t(`hooks.status.${delivery.status}`)}</td>
                  <td>
                    {delivery.responseCode ?? '–'}
                    {delivery.lastError && <span className="meta"> {delivery.lastError}</span>}
                  </td>
                  <td>{delivery.attempts}</td>
                  <td>{formatDateTime(delivery.lastAttemptAt ?? delivery.createdAt, language)}</td>
                  <td>
                    {(delivery.status === 'FAILED' || delivery.status === 'DELIVERED' || delivery.status === 'CANCELLED') && (
                      <button
                        type="button"
                        disabled={busy}
                        onClick={() => redeliver(delivery.id)}
                        aria-label={t('hooks.redeliverLabel', { event: delivery.eventType })}
                      >
                        {t('hooks.redeliver')}
                      </button>
                    )}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      <button type="button" className="link" onClick={refresh}>
        {t('hooks.refresh')}
      </button>
    </details>
  );
}
