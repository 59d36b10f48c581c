import { useEffect, useState } from 'react';
import { formatMoney } from '../format';
import { TenantListDocument, type TenantListQuery } from '../generated/graphql';
import { asRequestError, type GraphQLClient, type GraphQLRequestError } from '../graphql';
import { useI18n, type MessageKey } from '../i18n';
import { linkTo } from '../router';
import { ErrorState, Loading } from './states';

type Edge = TenantListQuery['tenants']['edges'][number];
const PAGE = 25;

/** Partners and operators: the tenants they may see, with their balances. */
export function TenantsPage({ client }: { client: GraphQLClient }) {
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
    </>
  );
}
