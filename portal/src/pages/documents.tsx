import { useEffect, useState, type MouseEvent } from 'react';
import { formatDay, formatMoney } from '../format';
import { DocumentLinksDocument, DocumentsDocument, type DocumentKind, type DocumentsQuery } from '../generated/graphql';
import { asRequestError, type GraphQLClient, type GraphQLRequestError } from '../graphql';
import { useI18n, type MessageKey } from '../i18n';
import { ErrorState, Loading } from './states';

type Edge = NonNullable<DocumentsQuery['tenant']>['documents']['edges'][number];
const KINDS: DocumentKind[] = ['INVOICE', 'CREDIT_NOTE', 'STATEMENT'];
const PAGE = 20;
/** Download links are signed for 5 minutes: older ones are fetched afresh when clicked. */
const LINK_FRESH_MS = 4 * 60_000;

/** Invoices, credit notes and statements, newest first, with their PDF and (invoices, credit notes) XML. */
export function DocumentsPage({ client, tenantId }: { client: GraphQLClient; tenantId: string }) {
  const { t, language } = useI18n();
  const [kind, setKind] = useState<DocumentKind | ''>('');
  const [edges, setEdges] = useState<Edge[]>([]);
  const [page, setPage] = useState<{ cursor: string | null; more: boolean; at: number }>({ cursor: null, more: false, at: 0 });
  const [state, setState] = useState<{ loading: boolean; error?: GraphQLRequestError; missing?: boolean }>({ loading: true });

  const load = async (after: string | null) => {
    setState({ loading: true });
    try {
      const data = await client.request(DocumentsDocument, { tenantId, first: PAGE, after, kind: kind || null });
      if (!data.tenant) return setState({ loading: false, missing: true });
      const connection = data.tenant.documents;
      setEdges((previous) => (after ? [...previous, ...connection.edges] : connection.edges));
      setPage({ cursor: connection.pageInfo.endCursor ?? null, more: connection.pageInfo.hasNextPage, at: Date.now() });
      setState({ loading: false });
    } catch (caught) {
      setState({ loading: false, error: asRequestError(caught) });
    }
  };
  useEffect(() => {
    setEdges([]);
    void load(null);
  }, [client, tenantId, kind]);

  const open = (id: string, format: 'pdf' | 'xml') => async (event: MouseEvent<HTMLAnchorElement>) => {
    if (Date.now() - page.at < LINK_FRESH_MS) return;
    event.preventDefault();
    try {
      const { document } = await client.request(DocumentLinksDocument, { id });
      const url = format === 'pdf' ? document?.pdfUrl : document?.xmlUrl;
      if (url) location.assign(url);
    } catch (caught) {
      setState({ loading: false, error: asRequestError(caught) });
    }
  };

  if (state.missing) return <p role="alert">{t('notFound')}</p>;
  return (
    <>
      <h1>{t('docs.title')}</h1>
      <div className="filters card">
        <div>
          <label htmlFor="doc-kind">{t('docs.kind')}</label>
          <select id="doc-kind" value={kind} onChange={(event) => setKind(event.target.value as DocumentKind | '')}>
            <option value="">{t('docs.allKinds')}</option>
            {KINDS.map((value) => (
              <option key={value} value={value}>
                {t(`kind.${value}` as MessageKey)}
              </option>
            ))}
          </select>
        </div>
      </div>
      {state.error && <ErrorState error={state.error} retry={() => void load(page.cursor)} />}
      {!state.error && !state.loading && edges.length === 0 && <p>{t('docs.empty')}</p>}
      {edges.length > 0 && (
        <div className="card table-wrap">
          <table className="list" data-testid="documents">
            <thead>
              <tr>
                <th scope="col">{t('docs.number')}</th>
                <th scope="col">{t('docs.kind')}</th>
                <th scope="col">{t('docs.date')}</th>
                <th scope="col" className="number">
                  {t('docs.total')}
                </th>
                <th scope="col">{t('docs.download')}</th>
              </tr>
            </thead>
            <tbody>
              {edges.map(({ node }) => (
                <tr key={node.id}>
                  <td>{node.number}</td>
                  <td>{t(`kind.${node.kind}` as MessageKey)}</td>
                  <td>{formatDay(node.issueDate, language)}</td>
                  <td className="number">{formatMoney(node.totals.gross.amountMinor, node.totals.gross.currency, language)}</td>
                  <td className="downloads">
                    <a href={node.pdfUrl} onClick={(event) => void open(node.id, 'pdf')(event)} aria-label={t('docs.pdfOf', { number: node.number })}>
                      PDF
                    </a>
                    {node.xmlUrl && (
                      <a href={node.xmlUrl} onClick={(event) => void open(node.id, 'xml')(event)} aria-label={t('docs.xmlOf', { number: node.number })}>
                        XML
                      </a>
                    )}
                  </td>
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
