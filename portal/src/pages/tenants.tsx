import { useEffect, useState } from 'react';
import { formatMoney } from '../format';
import { OpenFraudCasesDocument, TenantListDocument, type OpenFraudCasesQuery, type TenantListQuery } from '../generated/graphql';
import { asRequestError, type GraphQLClient, type GraphQLRequestError } from '../graphql';
import { useI18n, type MessageKey } from '../i18n';
import { linkTo } from '../router';
import { ErrorState, Loading } from './states';

type Edge = TenantListQuery['tenants']['edges'][number];
const PAGE = 25;

/** Partners and operators: the tenants they may see, with their balances. */
export function TenantsPage({ client, operator }: { client: GraphQLClient; operator: boolean }) {
  const { t, language } = useI18n();
  const [edges, setEdges] = useState<Edge[]>([]);
  const [cursor, setCursor] = useState<string | null>(null);
  const [more, setMore] = useState(false);
  const [loading, setLoading] = useState(true);
  const [error, setError] = useState<GraphQLRequestError>();

  const load = async (after: string | null) => {
    setLoading(true);
    setError(undefined);
    try {
      const data = await client.request(TenantListDocument, { first: PAGE, after });
      setEdges((previous) => (after ? [...previous, ...data.tenants.edges] : data.tenants.edges));
      setCursor(data.tenants.pageInfo.endCursor ?? null);
      setMore(data.tenants.pageInfo.hasNextPage);
    } catch (caught) {
      setError(asRequestError(caught));
    } finally {
      setLoading(false);
    }
  };
  useEffect(() => {
    void load(null);
  }, [client]);

  return (
    <>
      <h1>{t('tenants.title')}</h1>
      {error && <ErrorState error={error} retry={() => void load(cursor)} />}
      {!error && !loading && edges.length === 0 && <p>{t('tenants.empty')}</p>}
      {edges.length > 0 && (
        <div className="card table-wrap">
          <table className="list">
            <thead>
              <tr>
                <th scope="col">{t('tenants.name')}</th>
                <th scope="col">{t('tenants.partner')}</th>
                <th scope="col">{t('tenants.status')}</th>
                <th scope="col" className="number">
                  {t('tenants.balance')}
                </th>
                <th scope="col">{t('tenants.risk')}</th>
              </tr>
            </thead>
            <tbody>
              {edges.map(({ node }) => (
                <tr key={node.id}>
                  <td>
                    <a {...linkTo(`tenants/${node.id}`)}>{node.name}</a>
                  </td>
                  <td>{node.partner?.name ?? '—'}</td>
                  <td>{t(`status.${node.status}` as MessageKey)}</td>
                  <td className="number">{formatMoney(node.balance.available.amountMinor, node.balance.available.currency, language)}</td>
                  <td>
                    {node.anomalies.edges[0]
                      ? t('tenants.anomaly', { severity: t(`severity.${node.anomalies.edges[0].node.severity}` as MessageKey) })
                      : t('tenants.noAnomaly')}
                  </td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {loading && <Loading />}
      {more && !loading && (
        <button type="button" onClick={() => void load(cursor)}>
          {t('tenants.more')}
        </button>
      )}
      {operator && <FraudCases client={client} names={new Map(edges.map(({ node }) => [node.id, node.name]))} />}
    </>
  );
}

type FraudCase = OpenFraudCasesQuery['fraudCases']['edges'][number]['node'];

/** Operators: the open fraud cases. */
function FraudCases({ client, names }: { client: GraphQLClient; names: Map<string, string> }) {
  const { t, language } = useI18n();
  const [cases, setCases] = useState<FraudCase[]>();
  const [error, setError] = useState<GraphQLRequestError>();
  useEffect(() => {
    client
      .request(OpenFraudCasesDocument, {})
      .then((data) => setCases(data.fraudCases.edges.map((edge) => edge.node)))
      .catch((caught: unknown) => setError(asRequestError(caught)));
  }, [client]);
  return (
    <section className="card" aria-labelledby="fraud-title">
      <h2 id="fraud-title">{t('fraud.title')}</h2>
      {error && <ErrorState error={error} />}
      {!cases && !error && <Loading />}
      {cases && cases.length === 0 && <p>{t('fraud.none')}</p>}
      {cases && cases.length > 0 && (
        <ul className="plain">
          {cases.map((fraud) => (
            <li key={fraud.id}>
              <a {...linkTo(`tenants/${fraud.tenantId}`)}>{names.get(fraud.tenantId) ?? fraud.tenantId}</a> · {t(`severity.${fraud.severity}` as MessageKey)} ·{' '}
              {new Intl.DateTimeFormat(language === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'medium' }).format(new Date(fraud.openedAt))}
              {fraud.usageSuspended ? ` · ${t('fraud.suspended')}` : ''}
            </li>
          ))}
        </ul>
      )}
    </section>
  );
}
