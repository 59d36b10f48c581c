import { useEffect, useState, type FormEvent } from 'react';
import { formatMoney } from '../format';
import { TransactionsDocument, type LedgerEntryType, type TransactionsQuery } from '../generated/graphql';
import { asRequestError, type GraphQLClient, type GraphQLRequestError } from '../graphql';
import { useI18n, type MessageKey } from '../i18n';
import { ErrorState, Loading } from './states';

type Edge = NonNullable<TransactionsQuery['tenant']>['transactions']['edges'][number];
const TYPES: LedgerEntryType[] = ['TOP_UP', 'USAGE', 'REFUND', 'ADJUSTMENT', 'BONUS', 'CREDIT_NOTE'];
const PAGE = 25;

interface Filters {
  type: LedgerEntryType | '';
  from: string;
  to: string;
}

/** The ledger, newest first: filtered by type and day range, paged with the connection's cursor. */
export function TransactionsPage({ client, tenantId }: { client: GraphQLClient; tenantId: string }) {
  const { t, language } = useI18n();
  const [draft, setDraft] = useState<Filters>({ type: '', from: '', to: '' });
  const [filters, setFilters] = useState<Filters>(draft);
  const [edges, setEdges] = useState<Edge[]>([]);
  const [page, setPage] = useState<{ cursor: string | null; more: boolean }>({ cursor: null, more: false });
  const [state, setState] = useState<{ loading: boolean; error?: GraphQLRequestError; missing?: boolean }>({ loading: true });

  const load = async (after: string | null) => {
    setState({ loading: true });
    try {
      const data = await client.request(TransactionsDocument, {
        tenantId,
        first: PAGE,
        after,
        type: filters.type || null,
        from: filters.from ? `${filters.from}T00:00:00.000Z` : null,
        // The last day is included: entries before the start of the next day.
        to: filters.to ? new Date(Date.parse(`${filters.to}T00:00:00.000Z`) + 86_400_000).toISOString() : null,
      });
      if (!data.tenant) return setState({ loading: false, missing: true });
      const connection = data.tenant.transactions;
      setEdges((previous) => (after ? [...previous, ...connection.edges] : connection.edges));
      setPage({ cursor: connection.pageInfo.endCursor ?? null, more: connection.pageInfo.hasNextPage });
      setState({ loading: false });
    } catch (caught) {
      setState({ loading: false, error: asRequestError(caught) });
    }
  };
  useEffect(() => {
    setEdges([]);
    void load(null);
  }, [client, tenantId, filters]);

  const apply = (event: FormEvent) => {
    event.preventDefault();
    setFilters(draft);
  };
  if (state.missing) return <p role="alert">{t('notFound')}</p>;
  return (
    <>
      <h1>{t('tx.title')}</h1>
      <form className="filters card" onSubmit={apply} aria-label={t('tx.filters')}>
        <div>
          <label htmlFor="tx-type">{t('tx.type')}</label>
          <select id="tx-type" value={draft.type} onChange={(event) => setDraft({ ...draft, type: event.target.value as Filters['type'] })}>
            <option value="">{t('tx.allTypes')}</option>
            {TYPES.map((type) => (
              <option key={type} value={type}>
                {t(`type.${type}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
        <div>
          <label htmlFor="tx-from">{t('tx.from')}</label>
          <input id="tx-from" type="date" value={draft.from} onChange={(event) => setDraft({ ...draft, from: event.target.value })} />
        </div>
        <div>
          <label htmlFor="tx-to">{t('tx.to')}</label>
          <input id="tx-to" type="date" value={draft.to} onChange={(event) => setDraft({ ...draft, to: event.target.value })} />
        </div>
        <button type="submit">{t('tx.apply')}</button>
      </form>
      {state.error && <ErrorState error={state.error} retry={() => void load(page.cursor)} />}
      {!state.error && !state.loading && edges.length === 0 && <p>{t('tx.empty')}</p>}
      {edges.length > 0 && (
        <div className="card table-wrap">
          <table className="list" data-testid="transactions">
            <thead>
              <tr>
                <th scope="col">{t('tx.when')}</th>
                <th scope="col">{t('tx.type')}</th>
                <th scope="col">{t('tx.what')}</th>
                <th scope="col" className="number">
                  {t('tx.amount')}
                </th>
                <th scope="col" className="number">
                  {t('tx.balanceAfter')}
                </th>
              </tr>
            </thead>
            <tbody>
              {edges.map(({ node }) => (
                <tr key={node.id}>
                  <td>
                    {new Intl.DateTimeFormat(language === 'de' ? 'de-DE' : 'en-GB', { dateStyle: 'short', timeStyle: 'short' }).format(new Date(node.postedAt))}
                  </td>
                  <td>{t(`type.${node.type}` as MessageKey)}</td>
                  <td>{node.product ? `${node.product} × ${node.quantity ?? ''}` : (node.description ?? node.externalRef ?? '')}</td>
                  <td className="number">{formatMoney(node.amount.amountMinor, node.amount.currency, language)}</td>
                  <td className="number">{formatMoney(node.balanceAfter.amountMinor, node.balanceAfter.currency, language)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </div>
      )}
      {state.loading && <Loading />}
      {page.more && !state.loading && (
        <button type="button" onClick={() => void load(page.cursor)}>
          {t('tenants.more')}
        </button>
      )}
    </>
  );
}
