import { useState, type FormEvent } from 'react';
import { formatDateTime, formatDay } from '../format';
import { CreateApiKeyDocument, PartnerKeysDocument, RevokeApiKeyDocument, RotateApiKeyDocument } from '../generated/graphql';
import { asRequestError, useQuery, type GraphQLClient } from '../graphql';
import { errorText, useI18n } from '../i18n';
import { ErrorState, Loading } from './states';

/** A rotated key's predecessor keeps working this long, so the integration can switch over without downtime. */
const ROTATION_GRACE_SECONDS = 86_400;

/** A partner's API keys: listed without secrets, created and rotated (the new secret shown once) and revoked. */
export function ApiKeysPage({ client, partnerId }: { client: GraphQLClient; partnerId: string }) {
  const { t, language } = useI18n();
  const query = useQuery(client, PartnerKeysDocument, { partnerId });
  const [name, setName] = useState('');
  const [secret, setSecret] = useState<string>();
  const [error, setError] = useState<string>();
  const [busy, setBusy] = useState(false);
  if (query.loading && !query.data) return <Loading />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const partner = query.data?.partner;
  if (!partner) return <p role="alert">{t('notFound')}</p>;
  const act = async (work: () => Promise<unknown>) => {
    setBusy(true);
    setError(undefined);
    try {
      await work();
      await query.refetch();
    } catch (caught) {
      setError(errorText(t, asRequestError(caught).code));
    } finally {
      setBusy(false);
    }
  };
  const create = (event: FormEvent) => {
    event.preventDefault();
    void act(async () => {
      const { createApiKey } = await client.request(CreateApiKeyDocument, { partnerId, name: name.trim() });
      setSecret(createApiKey.secret);
      setName('');
    });
  };
  return (
    <>
      <h1>{t('keys.title')}</h1>
      <section className="card" aria-labelledby="keys-list">
        <h2 id="keys-list">{partner.name}</h2>
        <p className="hint">{t('keys.rotateHelp')}</p>
        {partner.apiKeys.length === 0 ? (
          <p>{t('keys.none')}</p>
        ) : (
          <div className="table-wrap">
            <table className="list" data-testid="api-keys">
              <thead>
                <tr>
                  <th scope="col">{t('keys.name')}</th>
                  <th scope="col">{t('keys.created')}</th>
                  <th scope="col">{t('tenants.status')}</th>
                  <th scope="col">
                    <span className="visually-hidden">{t('keys.actions')}</span>
                  </th>
                </tr>
              </thead>
              <tbody>
                {partner.apiKeys.map((key) => (
                  <tr key={key.id}>
                    <td>{key.name}</td>
                    <td>{formatDay(key.createdAt.slice(0, 10), language)}</td>
                    <td>
                      {key.active ? t('keys.active') : t('keys.revoked')}
                      {key.active && key.expiresAt && <span className="meta"> · {t('keys.expires', { time: formatDateTime(key.expiresAt, language) })}</span>}
                    </td>
                    <td>
                      {key.active && (
                        <div className="row">
                          <button
                            type="button"
                            disabled={busy}
                            aria-label={t('keys.rotateLabel', { name: key.name })}
                            onClick={() =>
                              void act(async () => {
                                const { rotateApiKey } = await client.request(RotateApiKeyDocument, { id: key.id, graceSeconds: ROTATION_GRACE_SECONDS });
                                setSecret(rotateApiKey.secret);
                              })
                            }
                          >
                            {t('keys.rotate')}
                          </button>
                          <button type="button" disabled={busy} onClick={() => void act(() => client.request(RevokeApiKeyDocument, { id: key.id }))}>
                            {t('keys.revoke')}
                          </button>
                        </div>
                      )}
                    </td>
                  </tr>
                ))}
              </tbody>
            </table>
          </div>
        )}
        <form onSubmit={create} noValidate>
          <label htmlFor="key-name">{t('keys.newName')}</label>
          <div className="row">
            <input id="key-name" value={name} onChange={(event) => setName(event.target.value)} />
            <button type="submit" className="primary" disabled={busy || !name.trim()}>
              {t('keys.create')}
            </button>
          </div>
        </form>
        {secret && (
          <p className="notice" role="status">
            {t('keys.secretOnce')} <code data-testid="api-key-secret">{secret}</code>
          </p>
        )}
        {error && (
          <p className="error" role="alert">
            {error}
          </p>
        )}
      </section>
    </>
  );
}
