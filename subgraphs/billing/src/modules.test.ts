import assert from 'node:assert/strict';
import { readdirSync, readFileSync } from 'node:fs';
import { join, relative } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { MetadataStorage } from '@mikro-orm/core';
import { billingModules } from './definition.js';

// Each billing module owns its tables; another module reaches them only through the owner's index.ts (eslint
// enforces the imports, this test the SQL). Checked on the compiled sources of every module definition.ts composes.
const SRC = fileURLToPath(new URL('.', import.meta.url));

/** Writes another module's table legitimately: a one-time data migration, named here with its reason. */
const ALLOWED = new Map<string, string>([
  // Carries existing auto-top-up rules over to the ledger's balance watch (set through LedgerService from then on).
  ['payments/migrations.js', 'account'],
]);

function tableOf(entity: Function): string {
  const meta = MetadataStorage.getMetadata()[`${entity.name}`] ?? Object.values(MetadataStorage.getMetadata()).find((m) => m.class === entity);
  const name = meta?.tableName ?? meta?.collection;
  assert.ok(name, `no table name for entity ${entity.name}`);
  return name;
}

function sources(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) return sources(path);
    return entry.name.endsWith('.js') && !entry.name.endsWith('.test.js') ? [path] : [];
  });
}

describe('billing modules', () => {
  const owned = billingModules.map((module) => ({
    name: module.name,
    tables: [...(module.shard?.entities ?? []), ...(module.global?.entities ?? [])].map(tableOf),
  }));

  it('each own distinct tables', () => {
    const all = owned.flatMap((module) => module.tables);
    assert.equal(new Set(all).size, all.length, JSON.stringify(owned));
    assert.ok(owned.find((module) => module.name === 'payments')!.tables.includes('auto_top_up_rule'));
  });

  it("never name another module's table in SQL (the ledger reads no payments table)", () => {
    const trespasses: string[] = [];
    for (const module of owned) {
      for (const file of sources(join(SRC, module.name))) {
        const text = readFileSync(file, 'utf8');
        const where = relative(SRC, file);
        for (const other of owned.filter((candidate) => candidate !== module)) {
          for (const table of other.tables) {
            const sql = new RegExp(`\\b(from|join|update|into|table)\\s+"?${table}"?(\\s|$|,|\\))`, 'i');
            if (sql.test(text) && ALLOWED.get(where) !== table) trespasses.push(`${where} -> ${other.name}.${table}`);
          }
        }
      }
    }
    assert.deepEqual(trespasses, []);
  });
});
