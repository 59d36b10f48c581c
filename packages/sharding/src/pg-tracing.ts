import pg from 'pg';
import { SpanKind, failSpan, sampledParent, startLeafSpan, withLeafSpan } from '@saldo/service';

/**
 * A CLIENT span per PostgreSQL statement (MikroORM, raw SQL, the job queue: everything goes through pg.Client#query)
 * sent inside a sampled operation. Statements outside any operation (relay passes, job polling, pool housekeeping) and
 * statements of unsampled operations get none, and cost one context lookup; with tracing off, one boolean test. Calls
 * with SQL text are traced, promise or callback style (pg.Pool#query, which pg-boss uses, passes a callback); submittables
 * (cursors, streams) pass through untouched.
 * The span is a leaf (never made active) and carries only what the database semantic conventions ask for: the
 * operation, the database and the statement's text (parameters never), cut to 1,000 characters.
 */
let installed = false;

export function tracePostgres(): void {
  if (installed) return;
  installed = true;
  const proto = pg.Client.prototype as unknown as { query: (...args: unknown[]) => unknown; database?: string };
  const original = proto.query;
  proto.query = function (this: pg.Client, ...args: unknown[]): unknown {
    if (!sampledParent()) return original.apply(this, args);
    const [config, values, callback] = args;
    const text = typeof config === 'string' ? config : (config as { text?: unknown; submit?: unknown } | null)?.text;
    if (typeof text !== 'string' || typeof (config as { submit?: unknown } | null)?.submit === 'function') return original.apply(this, args);
    // Callback style: what pg.Pool#query does (the job queue's statements go that way).
    const at = typeof values === 'function' ? 1 : typeof callback === 'function' ? 2 : -1;
    if (at >= 0) {
      const span = startLeafSpan(SpanKind.CLIENT, () => describeStatement(text, this.database));
      if (!span) return original.apply(this, args);
      const done = args[at] as (error: unknown, result: unknown) => void;
      args[at] = (error: unknown, result: unknown) => {
        if (error) failSpan(span, error);
        span.end();
        done(error, result);
      };
      return original.apply(this, args);
    }
    return withLeafSpan(
      SpanKind.CLIENT,
      () => describeStatement(text, this.database),
      () => original.apply(this, args) as Promise<unknown>,
    );
  };
}

function describeStatement(text: string, database: string | undefined) {
  const operation = /^\s*(\w+)/.exec(text)?.[1]?.toUpperCase() ?? 'SQL';
  const namespace = database ?? 'postgres';
  return {
    name: `${operation} ${namespace}`,
    attributes: {
      'db.system.name': 'postgresql',
      'db.namespace': namespace,
      'db.operation.name': operation,
      'db.query.text': text.length > 1000 ? text.slice(0, 1000) : text,
    },
  };
}
