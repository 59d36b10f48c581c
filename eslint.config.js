// Lint rules for every TypeScript package; type-aware rules stay off to keep `pnpm lint` fast.
import js from '@eslint/js';
import tseslint from 'typescript-eslint';
import saldo from './tools/lint/module-boundaries.js';

export default tseslint.config(
  { ignores: ['**/dist/**', '**/node_modules/**', '.saldo/**', 'bench/results/**', 'portal/src/generated/**', 'e2e/artifacts/**'] },
  js.configs.recommended,
  ...tseslint.configs.recommended,
  {
    files: ['**/*.ts'],
    rules: {
      // type-graphql and MikroORM take class constructors; `Function` is the honest type there.
      '@typescript-eslint/no-unsafe-function-type': 'off',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
      'no-restricted-properties': ['error', { object: 'process', property: 'env', message: "Read configuration through the service's config module." }],
    },
  },
  {
    // A service's modules (folders under src/ with an index.ts, e.g. billing's ledger/, usage/, payments/) are
    // imported only through their index.ts.
    files: ['subgraphs/*/src/**/*.ts', 'gateway/src/**/*.ts'],
    plugins: { saldo },
    rules: { 'saldo/module-boundaries': 'error' },
  },
  {
    // Shared packages are mechanisms: they never import a service or an application (those compose the packages).
    files: ['packages/**/*.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          patterns: [
            {
              group: ['@saldo/gateway', '@saldo/gateway/*', '@saldo/subgraph-*', '@saldo/dev-stack', '@saldo/dev-stack/*', '@saldo/e2e', '@saldo/bench'],
              message: 'Shared packages never import a service or an application; compose services beside them (apps/dev-stack).',
            },
          ],
        },
      ],
    },
  },
  {
    // Entry points and the test harness are where configuration is read from the environment.
    files: ['**/src/main.ts', '**/src/*-cli.ts', 'packages/testing/src/harness.ts'],
    rules: { 'no-restricted-properties': 'off' },
  },
  {
    // Tests and their harness read untyped JSON responses.
    files: ['**/*.test.ts', 'packages/testing/src/**/*.ts', 'e2e/src/**/*.ts'],
    rules: { '@typescript-eslint/no-explicit-any': 'off', '@typescript-eslint/no-non-null-assertion': 'off' },
  },
  {
    // The portal runs in browsers: no Node globals, and configuration comes from the page (src/config.ts).
    files: ['portal/src/**/*.{ts,tsx}'],
    languageOptions: { globals: { window: 'readonly', document: 'readonly', location: 'readonly', history: 'readonly', navigator: 'readonly' } },
  },
  {
    files: ['**/*.mjs', '**/*.js'],
    languageOptions: { globals: { process: 'readonly', console: 'readonly', URL: 'readonly' } },
  },
);
