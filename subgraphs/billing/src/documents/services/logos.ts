import { createHash } from 'node:crypto';
import { DependencyGuardPool, failingStatus, fetchThrough, isDependencyUnavailable, type BreakerSettings } from '@saldo/resilience';
import { ErrorCode, SaldoError } from '@saldo/graphql';
import type { Logger } from '@saldo/service';
import type { ShardedDatabase } from '@saldo/sharding';
import type { LogoImage } from '../model.js';

/** Logos larger than this are not embedded (a document is not the place for a 5 MB image). */
const MAX_LOGO_BYTES = 1024 * 1024;

function sniff(data: Buffer): LogoImage['mime'] | null {
  if (data.length > 8 && data[0] === 0x89 && data.toString('ascii', 1, 4) === 'PNG') return 'image/png';
  if (data.length > 3 && data[0] === 0xff && data[1] === 0xd8) return 'image/jpeg';
  return null;
}

/** Longest one logo download may take. */
const LOGO_TIMEOUT_MS = 5000;

/**
 * The partner-logo fetches' circuit breakers (`logo`), one circuit per host (logos live on partners' own servers, and
 * one broken server must not stop the others'): unreachable, timed out and 5xx count. Settings: LOGO_BREAKER_*.
 */
export function logoGuards(breaker: BreakerSettings): DependencyGuardPool {
  return new DependencyGuardPool('logo', {
    ...breaker,
    timeoutMs: LOGO_TIMEOUT_MS,
    isFailureResult: failingStatus(),
    maxTargets: 1_000,
  });
}

/**
 * The logo host unreachable or answering 5xx before its circuit opens: DEPENDENCY_UNAVAILABLE like the open circuit,
 * so the job is retried. (Taken for "no logo", the branding would keep showing the display name until its logo URL
 * changed, though the host was only down for a moment.)
 */
function hostUnavailable(host: string, why: string): SaldoError {
  return new SaldoError(ErrorCode.DependencyUnavailable, `The logo host ${host} is unavailable (${why}); the logo is fetched again later.`, {
    dependency: `logo:${host}`,
    reason: 'failed',
  });
}

/**
 * A logo from a data: URI or an http(s) URL: PNG or JPEG, at most 1 MiB, within 5 seconds; anything else (a 4xx, a
 * file that is no PNG or JPEG, too large) is null. When the host is unreachable, answers 5xx, timed out or its circuit
 * is open it throws DEPENDENCY_UNAVAILABLE instead, so the logo job fails and is retried later rather than settling
 * for "no logo" for a server that is only down for now.
 */
export async function fetchLogo(url: string, logger: Logger, guards: DependencyGuardPool, signal?: AbortSignal): Promise<LogoImage | null> {
  try {
    let data: Buffer;
    const inline = /^data:image\/(png|jpeg);base64,([A-Za-z0-9+/=]+)$/.exec(url);
    if (inline) {
      data = Buffer.from(inline[2]!, 'base64');
    } else if (/^https?:\/\//.test(url)) {
      const host = new URL(url).host;
      let response: Response;
      try {
        response = await fetchThrough(guards.guard(host), url, { ...(signal ? { signal } : {}), redirect: 'follow', maxBytes: MAX_LOGO_BYTES });
      } catch (error) {
        throw isDependencyUnavailable(error) ? error : hostUnavailable(host, (error as Error).message);
      }
      // What the breaker counts as the host failing is the host being down for now, not the logo being unusable.
      if (response.status >= 500) throw hostUnavailable(host, `HTTP ${response.status}`);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      if (Number(response.headers.get('content-length') ?? 0) > MAX_LOGO_BYTES) throw new Error('larger than 1 MiB');
      data = Buffer.from(await response.arrayBuffer());
    } else {
      throw new Error('not a data: or http(s) URL');
    }
    if (data.length > MAX_LOGO_BYTES) throw new Error('larger than 1 MiB');
    const mime = sniff(data);
    if (!mime) throw new Error('neither PNG nor JPEG');
    return { mime, data };
  } catch (error) {
    if (isDependencyUnavailable(error)) throw error;
    logger.warn('branding logo not usable on documents (the display name is shown instead)', { url: url.slice(0, 200), error: (error as Error).message });
    return null;
  }
}

/** Fetches a branding level's logo into document_logo and points the level at it (if its URL is still the same). */
export async function storeBrandingLogo(
  db: ShardedDatabase,
  logger: Logger,
  job: { level: string; ownerId: string; url: string },
  guards: DependencyGuardPool,
  signal?: AbortSignal,
): Promise<void> {
  const logo = await fetchLogo(job.url, logger, guards, signal);
  if (!logo) return;
  const sha256 = createHash('sha256').update(logo.data).digest('hex');
  await db.globalEm().execute(
    `with stored as (insert into document_logo (sha256, mime, data) values (?, ?, ?) on conflict (sha256) do nothing)
     update document_branding set logo_sha256 = ? where level = ? and owner_id = ? and values->>'logoUrl' = ?`,
    [sha256, logo.mime, logo.data, sha256, job.level, job.ownerId, job.url],
    'run',
  );
}
