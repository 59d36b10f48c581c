import type { DependencyGuard } from './guard.js';

/** Statuses whose response may not carry a body (the Response constructor refuses one). */
const NO_BODY = new Set([101, 103, 204, 205, 304]);

/**
 * `fetch` through a dependency's guard, the whole answer read inside it: the guard's timeout covers the body as well as
 * the headers, and the signal the guard hands a call is aborted once the call returns, so a body read afterwards would
 * fail. Returns a Response whose body is in memory. A body declared larger than `maxBytes` is not read (the Response
 * keeps the status and headers, with an empty body): callers that refuse large answers look at `content-length`.
 * Which statuses count as the dependency failing is the guard's `isFailureResult` (see `failingStatus`).
 */
export function fetchThrough(guard: DependencyGuard, url: string | URL, init: RequestInit & { maxBytes?: number } = {}): Promise<Response> {
  const { maxBytes, ...request } = init;
  return guard.execute(async (signal) => {
    const response = await fetch(url, { ...request, signal: request.signal ? AbortSignal.any([request.signal, signal]) : signal });
    const declared = Number(response.headers.get('content-length') ?? 0);
    let body: ArrayBuffer | null = null;
    if (maxBytes !== undefined && declared > maxBytes) await response.body?.cancel();
    else if (!NO_BODY.has(response.status)) body = await response.arrayBuffer();
    return new Response(body, { status: response.status, statusText: response.statusText, headers: response.headers });
  });
}

/** An `isFailureResult` for fetchThrough: the dependency answered with a server error (5xx), or also 429 when asked. */
export function failingStatus(options: { tooManyRequests?: boolean } = {}): (result: unknown) => boolean {
  return (result) => {
    const status = (result as Response).status;
    return status >= 500 || (options.tooManyRequests === true && status === 429);
  };
}
