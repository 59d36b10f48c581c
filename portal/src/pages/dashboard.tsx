import { useEffect, useRef, useState } from 'react';
import { UsageChart } from '../chart';
import { formatDay, formatMoney, formatPercent, formatTime } from '../format';
import { BalanceLiveDocument, DashboardDocument, DepletionDocument, type DashboardQuery, type DepletionQuery } from '../generated/graphql';
import { asRequestError, useQuery, type GraphQLClient, type GraphQLRequestError } from '../graphql';
import { errorText, useI18n } from '../i18n';
import { ErrorState, Loading } from './states';

type Tenant = NonNullable<DashboardQuery['tenant']>;
type Balance = Tenant['balance'];
type Depletion = NonNullable<NonNullable<DepletionQuery['tenant']>['forecast']['depletion']> | null;

/** The balance (live over a subscription), when it runs out, and 30 days of usage with the 7-day forecast. */
export function DashboardPage({ client, tenantId, notice }: { client: GraphQLClient; tenantId: string; notice?: string | undefined }) {
  const { t } = useI18n();
  const query = useQuery(client, DashboardDocument, { tenantId });
  if (query.loading && !query.data) return <Loading />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const tenant = query.data?.tenant;
  if (!tenant) return <p role="alert">{t('notFound')}</p>;
  return (
    <>
      {notice && (
        <p className="notice" role="status">
          {notice}
        </p>
      )}
      <Dashboard key={tenant.id} client={client} tenant={tenant} />
    </>
  );
}

function Dashboard({ client, tenant }: { client: GraphQLClient; tenant: Tenant }) {
  const { t, language } = useI18n();
  const [balance, setBalance] = useState<Balance>(tenant.balance);
  const [depletion, setDepletion] = useState<Depletion>(tenant.forecast.depletion ?? null);
  const [live, setLive] = useState<'connecting' | 'live' | GraphQLRequestError>('connecting');
  const depletionTimer = useRef<number | undefined>(undefined);

  useEffect(() => {
    const refreshDepletion = () => {
      // The forecast follows the balance: fetched once things settle, never holding up the balance itself.
      window.clearTimeout(depletionTimer.current);
      depletionTimer.current = window.setTimeout(() => {
        client
          .request(DepletionDocument, { tenantId: tenant.id })
          .then((data) => setDepletion(data.tenant?.forecast.depletion ?? null))
          .catch(() => undefined);
      }, 500);
    };
    const stop = client.subscribe(
      BalanceLiveDocument,
      { tenantId: tenant.id },
      {
        next: (data) => {
          setLive('live');
          setBalance((previous) => {
            const next = data.balanceChanged.balance;
            if (next.version < previous.version) return previous;
            if (next.version > previous.version) refreshDepletion();
            return next;
          });
        },
        error: (error) => setLive(asRequestError(error)),
      },
    );
    return () => {
      window.clearTimeout(depletionTimer.current);
      stop();
    };
  }, [client, tenant.id]);

  const amount = formatMoney(balance.available.amountMinor, balance.available.currency, language);
  return (
    <>
      <h1>{tenant.name}</h1>
      {tenant.status === 'SUSPENDED' && (
        <p className="notice" role="alert">
          {t('dashboard.suspended')}
        </p>
      )}
      <div className="tiles">
        <section className="card tile" aria-labelledby="balance-title">
          <h2 id="balance-title">{t('dashboard.balance')}</h2>
          <p
            className={`balance${balance.available.amountMinor < 0 ? ' negative' : ''}`}
            data-testid="balance"
            data-version={balance.version}
            aria-live="polite"
          >
            {amount}
          </p>
          <p className="meta">
            {live === 'live' ? (
              <span className="live-dot">{t('dashboard.live')}</span>
            ) : live === 'connecting' ? (
              t('dashboard.connecting')
            ) : (
              <span className="error-text">{errorText(t, live.code)}</span>
            )}
            {balance.updatedAt && <> · {t('dashboard.updated', { time: formatTime(balance.updatedAt, language) })}</>}
          </p>
        </section>
        <section className="card tile" aria-labelledby="depletion-title">
          <h2 id="depletion-title">{t('dashboard.depletion')}</h2>
          {depletion ? (
            <>
              <p className="figure" data-testid="depletion">
                {formatDay(depletion.date, language)}
              </p>
              <p className="meta">
                {depletion.latest
                  ? t('dashboard.depletionRange', { earliest: formatDay(depletion.earliest, language), latest: formatDay(depletion.latest, language) })
                  : t('dashboard.depletionOpen', { earliest: formatDay(depletion.earliest, language) })}
                {' · '}
                {t('dashboard.confidence', { percent: formatPercent(depletion.confidence, language) })}
              </p>
            </>
          ) : (
            <p className="figure" data-testid="depletion">
              {t('dashboard.depletionNone')}
            </p>
          )}
        </section>
      </div>
      <section className="card" aria-labelledby="usage-title">
        <h2 id="usage-title">{t('dashboard.usage')}</h2>
        {tenant.usage.some((day) => day.quantity > 0) || tenant.forecast.days.length > 0 ? (
          <UsageChart usage={tenant.usage} forecast={tenant.forecast.days} />
        ) : (
          <p>{t('dashboard.noUsage')}</p>
        )}
      </section>
    </>
  );
}
