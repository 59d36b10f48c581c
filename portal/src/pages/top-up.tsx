import { useState, type FormEvent } from 'react';
import { formatMoney, minorToInput, parseMoney } from '../format';
import { CreateTopUpDocument, DisableAutoTopUpDocument, SetAutoTopUpDocument, TopUpPageDocument, type TopUpPageQuery } from '../generated/graphql';
import { asRequestError, useQuery, type GraphQLClient, type GraphQLRequestError } from '../graphql';
import { errorText, useI18n } from '../i18n';
import { ErrorState, Loading } from './states';

export const PENDING_TOP_UP = 'saldo.portal.top-up';

type Tenant = NonNullable<TopUpPageQuery['tenant']>;

/** Top up through Stripe Checkout (the development stand-in in the embedded default), and the automatic top-up rule. */
export function TopUpPage({ client, tenantId, notice }: { client: GraphQLClient; tenantId: string; notice: string | undefined }) {
  const { t } = useI18n();
  const query = useQuery(client, TopUpPageDocument, { tenantId });
  if (query.loading && !query.data) return <Loading />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const tenant = query.data?.tenant;
  if (!tenant) return <p role="alert">{t('notFound')}</p>;
  return (
    <>
      <h1>{t('topUp.title')}</h1>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <TopUpForm client={client} tenant={tenant} />
      <AutoTopUpSection client={client} tenant={tenant} refetch={() => void query.refetch()} />
    </>
  );
}

function TopUpForm({ client, tenant }: { client: GraphQLClient; tenant: Tenant }) {
  const { t, language } = useI18n();
  const [amount, setAmount] = useState('');
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const submit = async (event: FormEvent) => {
    event.preventDefault();
    const amountMinor = parseMoney(amount, tenant.currency);
    if (amountMinor === null || amountMinor <= 0) {
      setError(t('topUp.invalidAmount'));
      return;
    }
    setBusy(true);
    setError(undefined);
    try {
      const { createTopUp } = await client.request(CreateTopUpDocument, {
        input: { tenantId: tenant.id, amount: { amountMinor, currency: tenant.currency }, idempotencyKey: `portal-${crypto.randomUUID()}` },
      });
      if (!createTopUp.checkoutUrl) throw new Error('no checkout');
      sessionStorage.setItem(PENDING_TOP_UP, JSON.stringify({ tenantId: tenant.id, topUpId: createTopUp.id }));
      location.assign(createTopUp.checkoutUrl);
    } catch (caught) {
      setBusy(false);
      setError(errorText(t, asRequestError(caught).code));
    }
  };
  return (
    <section className="card" aria-labelledby="top-up-title">
      <h2 id="top-up-title">{t('topUp.manual')}</h2>
      <p className="meta">
        {t('dashboard.balance')}: <strong>{formatMoney(tenant.balance.available.amountMinor, tenant.balance.available.currency, language)}</strong>
      </p>
      <form onSubmit={(event) => void submit(event)} noValidate>
        <label htmlFor="top-up-amount">{t('topUp.amount', { currency: tenant.currency })}</label>
        <div className="row">
          <input
            id="top-up-amount"
            name="amount"
            inputMode="decimal"
            autoComplete="off"
            value={amount}
            onChange={(event) => setAmount(event.target.value)}
            aria-invalid={error ? true : undefined}
            aria-describedby={error ? 'top-up-error' : 'top-up-help'}
          />
          <button type="submit" className="primary" disabled={busy}>
            {busy ? t('topUp.redirecting') : t('topUp.pay')}
          </button>
        </div>
        <p id="top-up-help" className="hint">
          {t('topUp.help')}
        </p>
        {error && (
          <p id="top-up-error" className="error" role="alert">
            {error}
          </p>
        )}
      </form>
    </section>
  );
}

function AutoTopUpSection({ client, tenant, refetch }: { client: GraphQLClient; tenant: Tenant; refetch: () => void }) {
  const { t, language } = useI18n();
  const rule = tenant.autoTopUp;
  const currency = tenant.currency;
  const [threshold, setThreshold] = useState(rule ? minorToInput(rule.threshold.amountMinor, currency) : '');
  const [amount, setAmount] = useState(rule ? minorToInput(rule.amount.amountMinor, currency) : '');
  const [cap, setCap] = useState(rule ? minorToInput(rule.dailyCap.amountMinor, currency) : '');
  const [mode, setMode] = useState(rule?.mode ?? 'FIXED_AMOUNT');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string }>();
  const [busy, setBusy] = useState(false);
  const fail = (error: GraphQLRequestError | string) => setMessage({ kind: 'error', text: typeof error === 'string' ? error : errorText(t, error.code) });

  if (!rule) {
    return (
      <section className="card" aria-labelledby="auto-title">
        <h2 id="auto-title">{t('auto.title')}</h2>
        <p>{t('auto.none')}</p>
      </section>
    );
  }
  const save = async (event: FormEvent) => {
    event.preventDefault();
    const values = [parseMoney(threshold, currency), parseMoney(amount, currency), parseMoney(cap, currency)];
    if (values.some((value) => value === null)) return fail(t('topUp.invalidAmount'));
    const [thresholdMinor, amountMinor, capMinor] = values as [number, number, number];
    setBusy(true);
    try {
      await client.request(SetAutoTopUpDocument, {
        input: {
          tenantId: tenant.id,
          threshold: { amountMinor: thresholdMinor, currency },
          mode,
          amount: { amountMinor, currency },
          dailyCap: { amountMinor: capMinor, currency },
          stripeCustomerId: rule.stripeCustomerId,
          paymentMethodId: rule.paymentMethodId,
        },
      });
      setMessage({ kind: 'ok', text: t('auto.saved') });
      refetch();
    } catch (caught) {
      fail(asRequestError(caught));
    } finally {
      setBusy(false);
    }
  };
  const disable = async () => {
    setBusy(true);
    try {
      await client.request(DisableAutoTopUpDocument, { tenantId: tenant.id });
      setMessage({ kind: 'ok', text: t('auto.disabled') });
      refetch();
    } catch (caught) {
      fail(asRequestError(caught));
    } finally {
      setBusy(false);
    }
  };
  return (
    <section className="card" aria-labelledby="auto-title">
      <h2 id="auto-title">{t('auto.title')}</h2>
      <p data-testid="auto-state">
        {rule.enabled ? t('auto.on') : t('auto.off')}
        {rule.consecutiveFailures > 0 && rule.lastFailure && (
          <span className="error-text"> · {t('auto.failed', { count: rule.consecutiveFailures, code: rule.lastFailure.code })}</span>
        )}
      </p>
      <form onSubmit={(event) => void save(event)} className="form-grid" noValidate>
        <label htmlFor="auto-threshold">{t('auto.threshold', { currency })}</label>
        <input id="auto-threshold" inputMode="decimal" value={threshold} onChange={(event) => setThreshold(event.target.value)} />
        <label htmlFor="auto-mode">{t('auto.mode')}</label>
        <select id="auto-mode" value={mode} onChange={(event) => setMode(event.target.value as typeof mode)}>
          <option value="FIXED_AMOUNT">{t('auto.fixed')}</option>
          <option value="TOP_UP_TO">{t('auto.topUpTo')}</option>
        </select>
        <label htmlFor="auto-amount">{t('auto.amount', { currency })}</label>
        <input id="auto-amount" inputMode="decimal" value={amount} onChange={(event) => setAmount(event.target.value)} />
        <label htmlFor="auto-cap">{t('auto.cap', { currency })}</label>
        <input id="auto-cap" inputMode="decimal" value={cap} onChange={(event) => setCap(event.target.value)} />
        <div className="row">
          <button type="submit" className="primary" disabled={busy}>
            {rule.enabled ? t('auto.save') : t('auto.enable')}
          </button>
          {rule.enabled && (
            <button type="button" onClick={() => void disable()} disabled={busy}>
              {t('auto.disable')}
            </button>
          )}
        </div>
      </form>
      <p className="hint">{t('auto.card', { amount: formatMoney(rule.dailyCap.amountMinor, currency, language) })}</p>
      {message && (
        <p className={message.kind === 'error' ? 'error' : 'notice'} role={message.kind === 'error' ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
    </section>
  );
}
