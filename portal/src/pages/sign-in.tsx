import { useState } from 'react';
import { beginSignIn } from '../auth';
import type { PortalConfig } from '../config';
import { errorText, useI18n } from '../i18n';

export function SignInPage({ config, problem }: { config: PortalConfig; problem: string | undefined }) {
  const { t } = useI18n();
  const [busy, setBusy] = useState(false);
  const [failure, setFailure] = useState<string>();
  const start = async () => {
    setBusy(true);
    try {
      await beginSignIn(config, { returnTo: location.pathname + location.search });
    } catch (error) {
      setBusy(false);
      setFailure(error instanceof Error ? error.message : String(error));
    }
  };
  return (
    <section className="card sign-in" aria-labelledby="sign-in-title">
      <h1 id="sign-in-title">{t('signIn.title')}</h1>
      <p>{t('signIn.lead')}</p>
      {problem && (
        <p className="notice" role="alert">
          {errorText(t, problem)}
        </p>
      )}
      {failure && (
        <p className="error" role="alert">
          {t('signIn.failed')}: {failure}
        </p>
      )}
      <button type="button" className="primary" onClick={() => void start()} disabled={busy}>
        {busy ? t('signIn.working') : t('signIn.button')}
      </button>
      {config.development && <p className="hint">{t('signIn.development')}</p>}
    </section>
  );
}
