import { useState, type FormEvent } from 'react';
import { formatDateTime } from '../format';
import {
  AddCustomDomainDocument,
  PartnerBrandingPageDocument,
  RemoveCustomDomainDocument,
  SetPartnerBrandingDocument,
  VerifyCustomDomainDocument,
  type DomainPurpose,
  type PartnerBrandingPageQuery,
} from '../generated/graphql';
import { asRequestError, useQuery, type GraphQLClient } from '../graphql';
import { errorText, useI18n } from '../i18n';
import { ErrorState, Loading } from './states';

type Partner = NonNullable<PartnerBrandingPageQuery['partner']>;
type Message = { kind: 'ok' | 'error'; text: string } | undefined;

function Feedback({ message, testId }: { message: Message; testId?: string }) {
  if (!message) return null;
  return (
    <p className={message.kind === 'error' ? 'error' : 'notice'} role={message.kind === 'error' ? 'alert' : 'status'} data-testid={testId}>
      {message.text}
    </p>
  );
}

/** A partner's branding (name, colors, logo, support address) and its custom domains (verification, certificates). */
export function BrandingPage({ client, partnerId, onBrandingChanged }: { client: GraphQLClient; partnerId: string; onBrandingChanged: () => void }) {
  const { t } = useI18n();
  const query = useQuery(client, PartnerBrandingPageDocument, { partnerId });
  if (query.loading && !query.data) return <Loading />;
  if (query.error) return <ErrorState error={query.error} retry={() => void query.refetch()} />;
  const partner = query.data?.partner;
  if (!partner) return <p role="alert">{t('notFound')}</p>;
  return (
    <>
      <h1>{t('branding.title')}</h1>
      <BrandingForm
        client={client}
        partner={partner}
        saved={() => {
          void query.refetch();
          onBrandingChanged();
        }}
      />
      <Domains client={client} partner={partner} refetch={() => void query.refetch()} />
    </>
  );
}

function BrandingForm({ client, partner, saved }: { client: GraphQLClient; partner: Partner; saved: () => void }) {
  const { t } = useI18n();
  const branding = partner.branding;
  const [displayName, setDisplayName] = useState(branding.displayName);
  const [primaryColor, setPrimaryColor] = useState(branding.primaryColor);
  const [accentColor, setAccentColor] = useState(branding.accentColor);
  const [logoUrl, setLogoUrl] = useState(branding.logoUrl ?? '');
  const [supportEmail, setSupportEmail] = useState(branding.supportEmail ?? '');
  const [message, setMessage] = useState<Message>();
  const [busy, setBusy] = useState(false);
  const save = async (event: FormEvent) => {
    event.preventDefault();
    setBusy(true);
    try {
      await client.request(SetPartnerBrandingDocument, {
        partnerId: partner.id,
        input: {
          displayName: displayName.trim(),
          primaryColor: primaryColor.trim(),
          accentColor: accentColor.trim(),
          logoUrl: logoUrl.trim() || null,
          supportEmail: supportEmail.trim() || null,
        },
      });
      setMessage({ kind: 'ok', text: t('branding.saved') });
      saved();
    } catch (caught) {
      setMessage({ kind: 'error', text: errorText(t, asRequestError(caught).code) });
    } finally {
      setBusy(false);
    }
  };
  const color = (id: string, label: string, value: string, set: (value: string) => void) => (
    <>
      <label htmlFor={id}>{label}</label>
      <div className="row">
        <input id={id} value={value} onChange={(event) => set(event.target.value)} spellCheck={false} autoComplete="off" aria-describedby="color-help" />
        <span className="swatch" style={{ background: /^#[0-9a-f]{6}$/i.test(value) ? value : 'transparent' }} aria-hidden="true" />
      </div>
    </>
  );
  return (
    <section className="card" aria-labelledby="branding-title">
      <h2 id="branding-title">{t('branding.look')}</h2>
      <form className="form-grid" onSubmit={(event) => void save(event)} noValidate>
        <label htmlFor="brand-name">{t('branding.displayName')}</label>
        <input id="brand-name" value={displayName} onChange={(event) => setDisplayName(event.target.value)} aria-describedby="brand-name-help" />
        <p id="brand-name-help" className="hint">
          {t('branding.displayNameHelp')}
        </p>
        {color('brand-primary', t('branding.primary'), primaryColor, setPrimaryColor)}
        {color('brand-accent', t('branding.accent'), accentColor, setAccentColor)}
        <p id="color-help" className="hint">
          {t('branding.colorHelp')}
        </p>
        <label htmlFor="brand-logo">{t('branding.logo')}</label>
        <input id="brand-logo" type="url" value={logoUrl} onChange={(event) => setLogoUrl(event.target.value)} placeholder="https://" />
        <label htmlFor="brand-support">{t('branding.support')}</label>
        <input id="brand-support" type="email" value={supportEmail} onChange={(event) => setSupportEmail(event.target.value)} />
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

function Domains({ client, partner, refetch }: { client: GraphQLClient; partner: Partner; refetch: () => void }) {
  const { t, language } = useI18n();
  const [hostname, setHostname] = useState('');
  const [purpose, setPurpose] = useState<DomainPurpose>('PORTAL');
  const [message, setMessage] = useState<Message>();
  const [busy, setBusy] = useState(false);
  const act = async (work: () => Promise<unknown>, ok: string) => {
    setBusy(true);
    try {
      await work();
      setMessage({ kind: 'ok', text: ok });
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
      await client.request(AddCustomDomainDocument, { input: { partnerId: partner.id, hostname: hostname.trim(), purpose } });
      setHostname('');
    }, t('domains.added'));
  };
  return (
    <section className="card" aria-labelledby="domains-title">
      <h2 id="domains-title">{t('domains.title')}</h2>
      {partner.customDomains.length === 0 ? (
        <p>{t('domains.none')}</p>
      ) : (
        <ul className="plain" data-testid="domains">
          {partner.customDomains.map((domain) => (
            <li key={domain.id} data-testid={`domain-${domain.hostname}`}>
              <h3>
                <code>{domain.hostname}</code>
              </h3>
              <dl className="facts">
                <dt>{t('domains.purpose')}</dt>
                <dd>{t(`domains.purpose.${domain.purpose}`)}</dd>
                <dt>{t('tenants.status')}</dt>
                <dd data-testid="domain-status">
                  <span>{t(`domains.status.${domain.status}`)}</span> <span className="meta">{domain.statusMessage}</span>
                </dd>
                <dt>{t('domains.certificate')}</dt>
                <dd data-testid="domain-certificate">
                  {domain.certificate
                    ? t('domains.certificateValid', {
                        until: formatDateTime(domain.certificate.notAfter, language),
                        renew: formatDateTime(domain.certificate.renewAt, language),
                      })
                    : t('domains.noCertificate')}
                </dd>
                {domain.lastError && (
                  <>
                    <dt>{t('domains.lastError')}</dt>
                    <dd className="error-text">
                      {domain.lastError} {domain.lastErrorCode && <span className="code">({domain.lastErrorCode})</span>}
                    </dd>
                  </>
                )}
              </dl>
              {domain.status === 'PENDING_VERIFICATION' || domain.status === 'FAILED' ? (
                <div className="verification">
                  <p>{t('domains.verifyHelp')}</p>
                  <dl className="facts">
                    <dt>{t('domains.recordName')}</dt>
                    <dd>
                      <code data-testid="record-name">{domain.verification.recordName}</code>
                    </dd>
                    <dt>{t('domains.recordType')}</dt>
                    <dd>
                      <code>{domain.verification.recordType}</code>
                    </dd>
                    <dt>{t('domains.recordValue')}</dt>
                    <dd>
                      <code data-testid="record-value">{domain.verification.recordValue}</code>
                    </dd>
                    <dt>{t('domains.httpProof')}</dt>
                    <dd>
                      <code>{domain.verification.httpUrl}</code>
                    </dd>
                  </dl>
                </div>
              ) : null}
              <div className="row">
                {(domain.status === 'PENDING_VERIFICATION' || domain.status === 'FAILED') && (
                  <button
                    type="button"
                    disabled={busy}
                    aria-label={t('domains.verifyLabel', { hostname: domain.hostname })}
                    onClick={() => void act(() => client.request(VerifyCustomDomainDocument, { id: domain.id }), t('domains.verifying'))}
                  >
                    {t('domains.verify')}
                  </button>
                )}
                <button
                  type="button"
                  disabled={busy}
                  aria-label={t('domains.removeLabel', { hostname: domain.hostname })}
                  onClick={() => void act(() => client.request(RemoveCustomDomainDocument, { id: domain.id }), t('domains.removed'))}
                >
                  {t('domains.remove')}
                </button>
              </div>
            </li>
          ))}
        </ul>
      )}
      <form onSubmit={add} noValidate className="form-grid">
        <label htmlFor="domain-hostname">{t('domains.hostname')}</label>
        <input
          id="domain-hostname"
          value={hostname}
          onChange={(event) => setHostname(event.target.value)}
          placeholder="portal.example.com"
          autoComplete="off"
          spellCheck={false}
        />
        <label htmlFor="domain-purpose">{t('domains.purpose')}</label>
        <select id="domain-purpose" value={purpose} onChange={(event) => setPurpose(event.target.value as DomainPurpose)}>
          <option value="PORTAL">{t('domains.purpose.PORTAL')}</option>
          <option value="API">{t('domains.purpose.API')}</option>
        </select>
        <div className="row">
          <button type="submit" className="primary" disabled={busy || !hostname.trim()}>
            {t('domains.add')}
          </button>
          <button type="button" className="link" onClick={refetch}>
            {t('hooks.refresh')}
          </button>
        </div>
      </form>
      <Feedback message={message} testId="domains-message" />
    </section>
  );
}
