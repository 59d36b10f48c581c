import { BillingErrorCode, billingError } from '../../shared/errors.js';

/** Where Stripe Checkout sends the payer after paying (success) or going back (cancel). */
export interface ReturnUrls {
  success: string;
  cancel: string;
}

/**
 * The return URLs of a Checkout Session started from `returnOrigin` (the origin the portal was served from).
 *
 * - None given, or the configured URLs' own origin: the configured TOPUP_SUCCESS_URL / TOPUP_CANCEL_URL.
 * - An https origin whose hostname is the partner's custom domain the request itself came through (`hostName`, which the
 *   gateway matched against the served custom domains and signed into the identity): the configured URLs' path and
 *   query on that origin, so a payer who started on the partner's domain comes back to it (any port of it: the
 *   hostname is the partner's).
 * - Anything else is refused with RETURN_ORIGIN_NOT_ALLOWED: Checkout never becomes an open redirect to a host a client
 *   names.
 */
export function resolveReturnUrls(configured: ReturnUrls, returnOrigin: string | null | undefined, hostName: string | undefined): ReturnUrls {
  if (returnOrigin === null || returnOrigin === undefined) return configured;
  const refuse = (why: string) =>
    billingError(BillingErrorCode.ReturnOriginNotAllowed, `returnOrigin: ${why}; nothing was created.`, { field: 'returnOrigin' });
  let origin: URL;
  try {
    origin = new URL(returnOrigin);
  } catch {
    throw refuse('not a URL');
  }
  if (origin.origin === 'null' || `${origin.origin}` !== returnOrigin.replace(/\/$/, '')) throw refuse('must be an origin (scheme, host and port only)');
  const success = new URL(configured.success);
  const cancel = new URL(configured.cancel);
  if (origin.origin === success.origin) return configured;
  if (origin.protocol !== 'https:' || !hostName || origin.hostname !== hostName) {
    throw refuse("only the platform's own origin or the partner's custom domain this request came through");
  }
  // Path and query as configured (the query may carry Stripe's {CHECKOUT_SESSION_ID} placeholder, kept verbatim).
  const onOrigin = (configuredUrl: string, parsed: URL) =>
    `${origin.origin}${parsed.pathname}${configuredUrl.includes('?') ? configuredUrl.slice(configuredUrl.indexOf('?')) : ''}`;
  return { success: onOrigin(configured.success, success), cancel: onOrigin(configured.cancel, cancel) };
}
