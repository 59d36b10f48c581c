import type { GraphQLRequestError } from '../graphql';
import { errorText, useI18n } from '../i18n';

export function Loading() {
  const { t } = useI18n();
  return (
    <p className="loading" role="status">
      {t('loading')}
    </p>
  );
}

export function ErrorState({ error, retry }: { error: GraphQLRequestError; retry?: () => void }) {
  const { t } = useI18n();
  return (
    <div className="error" role="alert">
      <p>
        {errorText(t, error.code)} <span className="code">({error.code})</span>
      </p>
      {retry && (
        <button type="button" onClick={retry}>
          {t('retry')}
        </button>
      )}
    </div>
  );
}
