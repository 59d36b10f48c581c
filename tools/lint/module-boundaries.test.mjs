// Proves the boundary rules fail where they must: a cross-module import past a module's index.ts (billing's real
// modules through the repository's own eslint config, and a documents-style module in a fixture service), and a
// shared package importing a service.
import assert from 'node:assert/strict';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ESLint, Linter } from 'eslint';
import tseslint from 'typescript-eslint';
import saldo from './module-boundaries.js';

const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const eslint = new ESLint({ cwd: ROOT });

/** Lints `code` as if it were the file at `path` (relative to the repository root) under the repository's config. */
async function lintAs(path, code) {
  const [result] = await eslint.lintText(code, { filePath: join(ROOT, path) });
  return result.messages.map((message) => ({ rule: message.ruleId, message: message.message }));
}

describe('saldo/module-boundaries in the repository config', () => {
  it('refuses an import reaching into another billing module', async () => {
    const messages = await lintAs(
      'subgraphs/billing/src/payments/services/example.ts',
      "import { LedgerService } from '../../ledger/services/ledger-service.js';\nexport const ledger = LedgerService;\n",
    );
    assert.deepEqual(
      messages.map((m) => m.rule),
      ['saldo/module-boundaries'],
    );
    assert.match(messages[0].message, /reaches into the ledger module; import it from its public surface '\.\.\/\.\.\/ledger\/index\.js'/);
  });

  it('refuses type-only imports and re-exports past the surface too', async () => {
    const messages = await lintAs(
      'subgraphs/billing/src/usage/example.ts',
      [
        "import type { Account } from '../ledger/entities/account.js';",
        "export { TopUp } from '../payments/entities/top-up.js';",
        "export * from '../payments/stripe/stripe-gateway.js';",
        'export type Example = Account;',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      messages.map((m) => m.rule),
      ['saldo/module-boundaries', 'saldo/module-boundaries', 'saldo/module-boundaries'],
    );
  });

  it('refuses definition.ts (outside every module) reaching past a surface', async () => {
    const messages = await lintAs('subgraphs/billing/src/example.ts', "export { UsageService } from './usage/services/usage-service.js';\n");
    assert.deepEqual(
      messages.map((m) => m.rule),
      ['saldo/module-boundaries'],
    );
  });

  it('accepts imports through index.ts, within a module, and of shared code', async () => {
    const messages = await lintAs(
      'subgraphs/billing/src/payments/services/example.ts',
      [
        "import { LedgerService } from '../../ledger/index.js';",
        "import { TopUp } from '../entities/top-up.js';",
        "import { billingError } from '../../shared/errors.js';",
        'export const used = [LedgerService, TopUp, billingError];',
        '',
      ].join('\n'),
    );
    assert.deepEqual(messages, []);
  });
});

describe('saldo/module-boundaries on a module that does not exist in billing yet (documents)', () => {
  const fixture = mkdtempSync(join(tmpdir(), 'saldo-boundaries-'));
  after(() => rmSync(fixture, { recursive: true, force: true }));
  const src = join(fixture, 'subgraphs', 'demo', 'src');
  for (const file of ['ledger/index.ts', 'ledger/services/ledger-service.ts', 'documents/index.ts', 'documents/journal.ts', 'shared/errors.ts']) {
    mkdirSync(dirname(join(src, file)), { recursive: true });
    writeFileSync(join(src, file), 'export {};\n');
  }
  const linter = new Linter({ configType: 'flat', cwd: fixture });
  const config = [{ files: ['**/*.ts'], languageOptions: { parser: tseslint.parser }, plugins: { saldo }, rules: { 'saldo/module-boundaries': 'error' } }];
  const lint = (file, code) => linter.verify(code, config, { filename: join(src, file) }).map((message) => message.ruleId ?? message.message);

  it('refuses documents reaching into the ledger, and the ledger reaching into documents', () => {
    assert.deepEqual(lint('documents/statement.ts', "import { x } from '../ledger/services/ledger-service.js';\n"), ['saldo/module-boundaries']);
    assert.deepEqual(lint('ledger/services/feed.ts', "import { x } from '../../documents/journal.js';\n"), ['saldo/module-boundaries']);
    assert.deepEqual(lint('definition.ts', "import { x } from './documents/journal.js';\n"), ['saldo/module-boundaries']);
  });

  it('accepts documents through its index.ts, its own files, and shared code', () => {
    assert.deepEqual(lint('definition.ts', "import { x } from './documents/index.js';\n"), []);
    assert.deepEqual(
      lint('documents/statement.ts', "import { x } from './journal.js';\nimport { y } from '../ledger/index.js';\nimport { z } from '../shared/errors.js';\n"),
      [],
    );
  });
});

describe('shared packages never import a service', () => {
  it('refuses a package importing a subgraph, the gateway or the development stack', async () => {
    const messages = await lintAs(
      'packages/testing/src/example.ts',
      [
        "import { billingSubgraph } from '@saldo/subgraph-billing';",
        "import { createGatewayService } from '@saldo/gateway';",
        "import { startStack } from '@saldo/dev-stack';",
        'export const used = [billingSubgraph, createGatewayService, startStack];',
        '',
      ].join('\n'),
    );
    assert.deepEqual(
      messages.map((m) => m.rule),
      ['no-restricted-imports', 'no-restricted-imports', 'no-restricted-imports'],
    );
  });

  it('accepts a package importing another package', async () => {
    assert.deepEqual(
      await lintAs('packages/testing/src/example.ts', "import { createSubgraphService } from '@saldo/subgraph';\nexport const used = createSubgraphService;\n"),
      [],
    );
  });
});
