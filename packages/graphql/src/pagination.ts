import { ErrorCode, SaldoError } from './errors.js';

/**
 * Opaque cursors: base64url of a versioned JSON position. Clients must not build them;
 * anything that does not decode to the expected shape is INVALID_CURSOR.
 */
interface CursorPayload {
  v: 1;
  k: string;
}

export function encodeCursor(key: string): string {
  const payload: CursorPayload = { v: 1, k: key };
  return Buffer.from(JSON.stringify(payload), 'utf8').toString('base64url');
}

export function decodeCursor(cursor: string, isValidKey: (key: string) => boolean): string {
  const invalid = (): SaldoError => new SaldoError(ErrorCode.InvalidCursor, 'The cursor is malformed or from another listing.');
  if (cursor.length === 0 || cursor.length > 512 || !/^[A-Za-z0-9_-]+$/.test(cursor)) throw invalid();
  let payload: unknown;
  try {
    payload = JSON.parse(Buffer.from(cursor, 'base64url').toString('utf8'));
  } catch {
    throw invalid();
  }
  if (
    typeof payload !== 'object' ||
    payload === null ||
    (payload as CursorPayload).v !== 1 ||
    typeof (payload as CursorPayload).k !== 'string' ||
    !isValidKey((payload as CursorPayload).k)
  ) {
    throw invalid();
  }
  return (payload as CursorPayload).k;
}

export const PAGE_SIZE = { default: 20, max: 100 } as const;

/** Clamps `first` to the page-size rules; negative or zero is bad input rather than silently fixed. */
export function pageSize(first: number | null | undefined): number {
  if (first === null || first === undefined) return PAGE_SIZE.default;
  if (!Number.isInteger(first) || first < 1 || first > PAGE_SIZE.max) {
    throw new SaldoError(ErrorCode.BadUserInput, `first must be between 1 and ${PAGE_SIZE.max}.`, { field: 'first' });
  }
  return first;
}

/** Relay-style connection from a page of nodes. */
export function toConnection<T>(nodes: readonly T[], hasNextPage: boolean, cursorOf: (node: T) => string) {
  const edges = nodes.map((node) => ({ node, cursor: cursorOf(node) }));
  return { edges, pageInfo: { hasNextPage, endCursor: edges.at(-1)?.cursor ?? null } };
}
