// Runs every compiled test file with Node's test runner. Test files are independent processes;
// each end-to-end file creates its own uniquely named databases, so files may run in parallel.
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';

const files = globSync([
  'packages/*/dist/**/*.test.js',
  'subgraphs/*/dist/**/*.test.js',
  'gateway/dist/**/*.test.js',
  'schema/dist/**/*.test.js',
  'apps/*/dist/**/*.test.js',
  'e2e/dist/**/*.test.js',
  'tools/**/*.test.mjs',
  'scripts/**/*.test.mjs',
]).sort();
if (files.length === 0) {
  console.error('no compiled test files found: run pnpm build first');
  process.exit(1);
}
const result = spawnSync(process.execPath, ['--test', '--test-reporter=spec', '--test-concurrency=2', ...process.argv.slice(2), ...files], {
  stdio: 'inherit',
});
process.exit(result.status ?? 1);
