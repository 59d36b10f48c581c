import pg from 'pg';

/** Database name in a postgres:// URL. */
export function databaseName(url: string): string {
  const name = decodeURIComponent(new URL(url).pathname.replace(/^\//, ''));
  if (!/^[a-z_][a-z0-9_]{0,62}$/.test(name)) throw new Error(`Unsupported database name "${name}" in ${redactUrl(url)}`);
  return name;
}

/** The same server, but its maintenance database: used to create or drop others. */
function maintenanceUrl(url: string): string {
  const parsed = new URL(url);
  parsed.pathname = '/postgres';
  return parsed.toString();
}

export function redactUrl(url: string): string {
  const parsed = new URL(url);
  if (parsed.password) parsed.password = '***';
  return parsed.toString();
}

/** Creates every database named by `urls` that does not exist yet (idempotent, safe to run on every start). */
export async function ensureDatabases(urls: readonly string[]): Promise<string[]> {
  const created: string[] = [];
  for (const [server, names] of groupByServer(urls)) {
    const client = new pg.Client({ connectionString: server });
    await client.connect();
    try {
      for (const name of names) {
        const exists = await client.query('select 1 from pg_database where datname = $1', [name]);
        if (exists.rowCount === 0) {
          try {
            await client.query(`create database "${name}"`);
            created.push(name);
          } catch (error) {
            // Two processes racing to create the same database (white-label and its worker start together): the loser
            // sees 42P04 (duplicate_database), or 23505 when both passed the catalog check before either committed.
            const code = (error as { code?: string }).code;
            if (code !== '42P04' && code !== '23505') throw error;
          }
        }
      }
    } finally {
      await client.end();
    }
  }
  return created;
}

/** Drops the databases named by `urls` (tests and the embedded reset use this). */
export async function dropDatabases(urls: readonly string[]): Promise<void> {
  for (const [server, names] of groupByServer(urls)) {
    const client = new pg.Client({ connectionString: server });
    await client.connect();
    try {
      for (const name of names) await client.query(`drop database if exists "${name}" with (force)`);
    } finally {
      await client.end();
    }
  }
}

function groupByServer(urls: readonly string[]): Map<string, string[]> {
  const groups = new Map<string, string[]>();
  for (const url of urls) {
    const server = maintenanceUrl(url);
    const names = groups.get(server) ?? [];
    names.push(databaseName(url));
    groups.set(server, names);
  }
  return groups;
}
