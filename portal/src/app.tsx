import { useCallback, useEffect, useMemo, useRef, useState, type CSSProperties, type ReactNode } from 'react';
import { beginSignIn, completeSignIn, forgetSignIn, signOut, SignInError, wasSignedIn, type Session } from './auth';
import { BASE, type PortalConfig } from './config';
import { CurrentBrandingDocument, type CurrentBrandingQuery } from './generated/graphql';
import { GraphQLClient } from './graphql';
import { I18nContext, initialLanguage, translator, type Language, type MessageKey } from './i18n';
import { DashboardPage } from './pages/dashboard';
import { DocumentsPage } from './pages/documents';
import { SignInPage } from './pages/sign-in';
import { Loading } from './pages/states';
import { TenantsPage } from './pages/tenants';
import { ApiKeysPage } from './pages/api-keys';
import { BrandingPage } from './pages/branding';
import { SettingsPage } from './pages/settings';
import { PENDING_SETUP, PENDING_TOP_UP, TopUpPage } from './pages/top-up';
import { TransactionsPage } from './pages/transactions';
import { linkTo, navigate, useRoute } from './router';

type Branding = CurrentBrandingQuery['currentBranding'];
type Phase = { kind: 'starting' } | { kind: 'signed-out'; problem?: string } | { kind: 'signed-in'; session: Session };

export function App({ config }: { config: PortalConfig }) {
  const [language, setLanguage] = useState<Language>(initialLanguage);
  const i18n = useMemo(() => ({ language, t: translator(language) }), [language]);
  const [phase, setPhase] = useState<Phase>({ kind: 'starting' });
  const [branding, setBranding] = useState<Branding>();
  /** Bumped when the partner saves its branding: the header reads it again. */
  const [brandingVersion, setBrandingVersion] = useState(0);
  const [notice, setNotice] = useState<{ route: string; key: MessageKey }>();
  /** The card-saving session the tenant came back from (its top-up page reads the saved card). */
  const [setup, setSetup] = useState<{ tenantId: string; checkoutSessionId: string }>();
  const route = useRoute();
  const tokenRef = useRef<string | undefined>(undefined);
  tokenRef.current = phase.kind === 'signed-in' ? phase.session.token : undefined;

  const expire = useCallback(() => {
    forgetSignIn();
    setPhase({ kind: 'signed-out', problem: 'UNAUTHENTICATED' });
  }, []);
  const client = useMemo(
    () => new GraphQLClient(config.graphqlPath, () => tokenRef.current, expire),
    // One client (and one WebSocket) per signed-in token.
    [config.graphqlPath, expire, phase.kind === 'signed-in' ? phase.session.token : ''],
  );
  useEffect(() => () => client.close(), [client]);

  // Start: the redirect back from the identity provider, a silent sign-in for a tab that was signed in, or sign-in.
  useEffect(() => {
    if (route === 'callback') {
      completeSignIn(config)
        .then(({ session, returnTo }) => {
          history.replaceState(null, '', returnTo);
          window.dispatchEvent(new PopStateEvent('popstate'));
          setPhase({ kind: 'signed-in', session });
        })
        .catch((error: unknown) => {
          history.replaceState(null, '', BASE);
          window.dispatchEvent(new PopStateEvent('popstate'));
          forgetSignIn();
          const code = error instanceof SignInError ? error.code : 'token_exchange_failed';
          setPhase({ kind: 'signed-out', ...(code === 'login_required' ? {} : { problem: code }) });
        });
      return;
    }
    if (wasSignedIn()) {
      void beginSignIn(config, { silent: true }).catch(() => setPhase({ kind: 'signed-out' }));
      return;
    }
    setPhase({ kind: 'signed-out' });
    // Only at start.
  }, []);

  // The session ends with its token.
  useEffect(() => {
    if (phase.kind !== 'signed-in') return;
    const timer = window.setTimeout(expire, Math.max(0, phase.session.expiresAt - Date.now()));
    return () => window.clearTimeout(timer);
  }, [phase, expire]);

  // Branding: the custom domain's partner (anonymous), or the signed-in partner's or tenant's.
  useEffect(() => {
    if (phase.kind === 'starting') return;
    client
      .request(CurrentBrandingDocument, {})
      .then((data) => setBranding(data.currentBranding))
      .catch(() => undefined);
  }, [client, phase.kind, brandingVersion]);

  useEffect(() => {
    document.documentElement.lang = language;
    document.title = branding ? `${branding.displayName} · ${i18n.t('app.title')}` : i18n.t('app.title');
  }, [language, branding, i18n]);

  const style = branding ? ({ '--primary': branding.primaryColor, '--accent': branding.accentColor } as CSSProperties) : undefined;
  const session = phase.kind === 'signed-in' ? phase.session : undefined;
  const ownTenant = session?.claims.tenant_id;

  // The way back from Checkout: to the tenant the top-up was for, with a word on what happened.
  useEffect(() => {
    if (phase.kind !== 'signed-in' || !route.startsWith('top-up/')) return;
    const paid = route === 'top-up/done';
    const pendingSetup = JSON.parse(sessionStorage.getItem(PENDING_SETUP) ?? 'null') as { tenantId: string; checkoutSessionId: string } | null;
    sessionStorage.removeItem(PENDING_SETUP);
    const pending = JSON.parse(sessionStorage.getItem(PENDING_TOP_UP) ?? 'null') as { tenantId: string } | null;
    sessionStorage.removeItem(PENDING_TOP_UP);
    let target: string;
    if (pendingSetup) {
      // Back from saving a card: the top-up page reads it back and offers the automatic top-up with it.
      target = `tenants/${pendingSetup.tenantId}/top-up`;
      if (paid) setSetup(pendingSetup);
      else setNotice({ route: target, key: 'auto.setupCancelled' });
    } else {
      const tenant = pending?.tenantId ?? ownTenant;
      target = tenant ? `tenants/${tenant}${paid ? '' : '/top-up'}` : '';
      setNotice({ route: target, key: paid ? 'topUp.paid' : 'topUp.cancelled' });
    }
    history.replaceState(null, '', `${BASE}${target}`);
    window.dispatchEvent(new PopStateEvent('popstate'));
  }, [phase.kind, route, ownTenant]);

  const parts = route.split('/');
  const tenantId = parts[0] === 'tenants' && parts[1] ? parts[1] : route === '' ? ownTenant : undefined;
  const section = parts[0] === 'tenants' ? (parts[2] ?? '') : '';
  const noticeText = notice && notice.route === route ? i18n.t(notice.key) : undefined;

  let main: ReactNode;
  if (phase.kind === 'starting' || route.startsWith('top-up/')) main = <Loading />;
  else if (phase.kind === 'signed-out') main = <SignInPage config={config} problem={phase.problem} />;
  else if (tenantId) {
    const tabs: Array<[string, MessageKey]> = [
      ['', 'nav.dashboard'],
      ['top-up', 'nav.topUp'],
      ['transactions', 'nav.transactions'],
      ['documents', 'nav.documents'],
      ['settings', 'nav.settings'],
    ];
    main = (
      <>
        <nav className="tabs" aria-label={i18n.t('nav.tenant')}>
          <ul>
            {tabs.map(([path, label]) => (
              <li key={path}>
                <a {...linkTo(`tenants/${tenantId}${path ? `/${path}` : ''}`)} aria-current={section === path ? 'page' : undefined}>
                  {i18n.t(label)}
                </a>
              </li>
            ))}
          </ul>
        </nav>
        {section === 'top-up' ? (
          <TopUpPage
            client={client}
            tenantId={tenantId}
            notice={noticeText}
            setupSessionId={setup?.tenantId === tenantId ? setup.checkoutSessionId : undefined}
          />
        ) : section === 'transactions' ? (
          <TransactionsPage client={client} tenantId={tenantId} />
        ) : section === 'documents' ? (
          <DocumentsPage client={client} tenantId={tenantId} />
        ) : section === 'settings' ? (
          <SettingsPage client={client} tenantId={tenantId} />
        ) : (
          <DashboardPage client={client} tenantId={tenantId} notice={noticeText} />
        )}
      </>
    );
  } else if (route === 'api-keys' && session?.claims.role === 'partner' && session.claims.partner_id)
    main = <ApiKeysPage client={client} partnerId={session.claims.partner_id} />;
  else if (route === 'branding' && session?.claims.role === 'partner' && session.claims.partner_id)
    main = <BrandingPage client={client} partnerId={session.claims.partner_id} onBrandingChanged={() => setBrandingVersion((version) => version + 1)} />;
  else main = <TenantsPage client={client} operator={session?.claims.role === 'platform-admin'} />;

  return (
    <I18nContext.Provider value={i18n}>
      <div className="app" style={style}>
        <a className="skip-link" href="#main">
          {i18n.t('nav.skip')}
        </a>
        <header className="topbar">
          <a className="brand" {...linkTo('')}>
            {branding?.logoUrl && <img src={branding.logoUrl} alt="" onError={(event) => (event.currentTarget.hidden = true)} />}
            <span data-testid="brand-name">{branding?.displayName ?? ''}</span>
          </a>
          <nav aria-label={i18n.t('nav.main')}>
            <ul>
              {session && !ownTenant && (
                <li>
                  <a {...linkTo('')} aria-current={route === '' ? 'page' : undefined}>
                    {i18n.t('nav.tenants')}
                  </a>
                </li>
              )}
              {session?.claims.role === 'partner' && (
                <li>
                  <a {...linkTo('api-keys')} aria-current={route === 'api-keys' ? 'page' : undefined}>
                    {i18n.t('nav.apiKeys')}
                  </a>
                </li>
              )}
              {session?.claims.role === 'partner' && (
                <li>
                  <a {...linkTo('branding')} aria-current={route === 'branding' ? 'page' : undefined}>
                    {i18n.t('nav.branding')}
                  </a>
                </li>
              )}
              {session && ownTenant && (
                <li>
                  <a {...linkTo('')} aria-current={route === '' ? 'page' : undefined}>
                    {i18n.t('nav.dashboard')}
                  </a>
                </li>
              )}
              <li>
                <button
                  type="button"
                  className="link"
                  lang={language === 'en' ? 'de' : 'en'}
                  aria-label={i18n.t('nav.languageLabel')}
                  onClick={() => setLanguage(language === 'en' ? 'de' : 'en')}
                >
                  {i18n.t('nav.language')}
                </button>
              </li>
              {session && (
                <li>
                  <button
                    type="button"
                    className="link"
                    onClick={() => {
                      setPhase({ kind: 'signed-out' });
                      navigate('');
                      void signOut(config);
                    }}
                  >
                    {i18n.t('nav.signOut')}
                  </button>
                </li>
              )}
            </ul>
          </nav>
          {session && (
            <p className="who" data-testid="who">
              {i18n.t(`role.${session.claims.role}` as MessageKey)}
            </p>
          )}
        </header>
        <main id="main" tabIndex={-1}>
          {main}
        </main>
        {branding?.supportEmail && (
          <footer className="footer">
            <a href={`mailto:${branding.supportEmail}`}>{branding.supportEmail}</a>
          </footer>
        )}
      </div>
    </I18nContext.Provider>
  );
}
