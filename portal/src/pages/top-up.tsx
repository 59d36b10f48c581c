import { useState, type FormEvent } from 'react';
import { formatMoney, minorToInput, parseMoney } from '../format';
import {
  CreatePaymentMethodSetupDocument,
  CreateTopUpDocument,
  DisableAutoTopUpDocument,
  SavedPaymentMethodDocument,
  SetAutoTopUpDocument,
  TopUpPageDocument,
  type SavedPaymentMethodQuery,
  type TopUpPageQuery,
} from '../generated/graphql';
import { asRequestError, useQuery, type GraphQLClient, type GraphQLRequestError } from '../graphql';
import { errorText, useI18n } from '../i18n';
import { ErrorState, Loading } from './states';

export const PENDING_TOP_UP = 'saldo.portal.top-up';
/** A card-saving Checkout (setup mode) under way: { tenantId, checkoutSessionId }, read on the way back. */
export const PENDING_SETUP = 'saldo.portal.card-setup';

type Tenant = NonNullable<TopUpPageQuery['tenant']>;
type Card = NonNullable<SavedPaymentMethodQuery['savedPaymentMethod']>;

/** Top up through Stripe Checkout (the development stand-in in the embedded default), and the automatic top-up rule. */
export function TopUpPage({
  client,
  tenantId,
  notice,
  setupSessionId,
}: {
  client: GraphQLClient;
  tenantId: string;
  notice: string | undefined;
  /** The card-saving Checkout Session the tenant just came back from. */
  setupSessionId?: string | undefined;
}) {
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
      <AutoTopUpSection client={client} tenant={tenant} setupSessionId={setupSessionId} refetch={() => void query.refetch()} />
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
        input: {
          tenantId: tenant.id,
          amount: { amountMinor, currency: tenant.currency },
          idempotencyKey: `portal-${crypto.randomUUID()}`,
          // Back to this origin after paying (a partner's custom domain, checked by billing).
          returnOrigin: location.origin,
        },
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

/** Sends the tenant to Stripe Checkout (setup mode) to save a card for automatic top-ups. */
function SaveCardButton({ client, tenant, label }: { client: GraphQLClient; tenant: Tenant; label: string }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string>();
  const start = async () => {
    setBusy(true);
    setError(undefined);
    try {
      const { createPaymentMethodSetup } = await client.request(CreatePaymentMethodSetupDocument, { tenantId: tenant.id, returnOrigin: location.origin });
      sessionStorage.setItem(PENDING_SETUP, JSON.stringify({ tenantId: tenant.id, checkoutSessionId: createPaymentMethodSetup.checkoutSessionId }));
      location.assign(createPaymentMethodSetup.url);
    } catch (caught) {
      setBusy(false);
      setError(errorText(t, asRequestError(caught).code));
    }
  };
  return (
    <>
      <button type="button" onClick={() => void start()} disabled={busy}>
        {busy ? t('topUp.redirecting') : label}
      </button>
      {error && (
        <p className="error" role="alert">
          {error}
        </p>
      )}
    </>
  );
}

function cardText(t: ReturnType<typeof useI18n>['t'], card: Pick<Card, 'brand' | 'last4' | 'expMonth' | 'expYear'>): string {
  const brand = card.brand ? card.brand.charAt(0).toUpperCase() + card.brand.slice(1) : t('auto.cardGeneric');
  const expiry = card.expMonth && card.expYear ? ` (${String(card.expMonth).padStart(2, '0')}/${String(card.expYear).slice(-2)})` : '';
  return `${brand} •••• ${card.last4 ?? '????'}${expiry}`;
}

function AutoTopUpSection({
  client,
  tenant,
  setupSessionId,
  refetch,
}: {
  client: GraphQLClient;
  tenant: Tenant;
  setupSessionId: string | undefined;
  refetch: () => void;
}) {
  const { t, language } = useI18n();
  const rule = tenant.autoTopUp;
  const currency = tenant.currency;
  // The card just saved on Stripe (read back from the setup session), else the rule's own.
  const savedQuery = useQuery(client, SavedPaymentMethodDocument, { tenantId: tenant.id, checkoutSessionId: setupSessionId ?? '' }, { skip: !setupSessionId });
  const saved = savedQuery.data?.savedPaymentMethod ?? undefined;
  const card = saved ? { stripeCustomerId: saved.stripeCustomerId, paymentMethodId: saved.paymentMethodId } : rule;
  const [threshold, setThreshold] = useState(rule ? minorToInput(rule.threshold.amountMinor, currency) : '');
  const [amount, setAmount] = useState(rule ? minorToInput(rule.amount.amountMinor, currency) : '');
  const [cap, setCap] = useState(rule ? minorToInput(rule.dailyCap.amountMinor, currency) : '');
  const [mode, setMode] = useState(rule?.mode ?? 'FIXED_AMOUNT');
  const [message, setMessage] = useState<{ kind: 'ok' | 'error'; text: string }>();
  const [busy, setBusy] = useState(false);
  const fail = (error: GraphQLRequestError | string) => setMessage({ kind: 'error', text: typeof error === 'string' ? error : errorText(t, error.code) });

  if (setupSessionId && savedQuery.loading) return <Loading />;
  if (!card) {
    return (
      <section className="card" aria-labelledby="auto-title">
        <h2 id="auto-title">{t('auto.title')}</h2>
        <p>{t('auto.none')}</p>
        {setupSessionId && savedQuery.error && (
          <p className="error" role="alert">
            {errorText(t, savedQuery.error.code)}
          </p>
        )}
        {setupSessionId && !savedQuery.error && !saved && <p role="status">{t('auto.cardPending')}</p>}
        <p className="hint">{t('auto.saveCardHelp')}</p>
        <SaveCardButton client={client} tenant={tenant} label={t('auto.saveCard')} />
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
          stripeCustomerId: card.stripeCustomerId,
          paymentMethodId: card.paymentMethodId,
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
      {saved && (
        <p className="notice" role="status" data-testid="saved-card">
          {t('auto.cardSaved', { card: cardText(t, saved) })}
        </p>
      )}
      <p data-testid="auto-state">
        {rule?.enabled ? t('auto.on') : t('auto.off')}
        {rule && rule.consecutiveFailures > 0 && rule.lastFailure && (
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
            {rule?.enabled ? t('auto.save') : t('auto.enable')}
          </button>
          {rule?.enabled && (
            <button type="button" onClick={() => void disable()} disabled={busy}>
              {t('auto.disable')}
            </button>
          )}
        </div>
      </form>
      {rule && <p className="hint">{t('auto.card', { amount: formatMoney(rule.dailyCap.amountMinor, currency, language) })}</p>}
      <div className="row">
        <SaveCardButton client={client} tenant={tenant} label={t('auto.replaceCard')} />
      </div>
      {message && (
        <p className={message.kind === 'error' ? 'error' : 'notice'} role={message.kind === 'error' ? 'alert' : 'status'}>
          {message.text}
        </p>
      )}
    </section>
  );
}
