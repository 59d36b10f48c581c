import pg from 'pg';
import { SpanKind, tracingEnabled, withSpan } from '@saldo/service';

/**
 * A CLIENT span per PostgreSQL statement (MikroORM, raw SQL, pg-boss: everything goes through pg.Client#query), when
 * tracing is on; with it off the wrapper costs one boolean test per statement. Only promise-style calls with SQL text
 * are traced; callbacks and submittables (cursors, streams) pass through untouched. The statement's text is recorded
 * (parameters never are), cut to 1,000 characters.
 */
let installed = false;

export function tracePostgres(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown; database?: string };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
    const [config, values, callback] = args;
    if (!tracingEnabled() || typeof values === 'function' || typeof callback === 'function') return original.apply(this, args);
    const text = typeof config === 'string' ? config : (config as { text?: unknown; submit?: unknown } | null)?.text;
    if (typeof text !== 'string' || typeof (config as { submit?: unknown } | null)?.submit === 'function') return original.apply(this, args);
    const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
    return withSpan(
      `${operation} ${this.database ?? 'postgres'}`,
      SpanKind.CLIENT,
      {
        'db.system.name': 'postgresql',
        'db.namespace': this.database ?? '',
        'db.operation.name': operation,
        'db.query.text': text.length > 1000 ? text.slice(0, 1000) : text,
      },
      () => original.apply(this, args) as Promise<unknown>,
    );
  };
}
