// Builds the portal into portal/dist (served by the gateway at /portal): codegen, type check (tsc, strict), Vite
// production build, then a gzip copy of every asset beside it (the gateway sends it to clients that accept gzip).
// Skipped when nothing it reads changed since the last build (inputs hashed into dist/.inputs-sha256), so `pnpm build`
// stays incremental.
import { createHash } from 'node:crypto';
import { spawnSync } from 'node:child_process';
import { globSync } from 'node:fs';
import { readFile, writeFile } from 'node:fs/promises';
import { fileURLToPath } from 'node:url';
import { gzipSync, constants } from 'node:zlib';
import { generate } from './codegen.mjs';

const portal = fileURLToPath(new URL('..', import.meta.url));
const STAMP = `${portal}dist/.inputs-sha256`;

async function inputsHash() {
  const files = [
    ...globSync(['src/**/*', 'scripts/*.mjs', 'index.html', 'package.json', 'tsconfig.json'], { cwd: portal }).filter(
      (file) => !file.startsWith('src/generated'),
    ),
    '../schema/supergraph.graphql',
  ].sort();
  const hash = createHash('sha256');
  for (const file of files) {
    let content;
    try {
      content = await readFile(`${portal}${file}`);
    } catch {
      continue; // a folder
    }
    hash.update(file).update('\0').update(content).update('\0');
  }
  return hash.digest('hex');
}

const force = process.argv.includes('--force');
const hash = await inputsHash();
if (!force && (await readFile(STAMP, 'utf8').catch(() => '')) === hash) process.exit(0);

const started = Date.now();
await generate();
const tsc = spawnSync(process.execPath, [fileURLToPath(import.meta.resolve('typescript/bin/tsc')), '-p', `${portal}tsconfig.json`], { stdio: 'inherit' });
if (tsc.status !== 0) {
  process.stderr.write('portal: type check failed\n');
  process.exit(1);
}
const { build } = await import('vite');
await build({
  root: portal,
  base: '/portal/',
  configFile: false,
  logLevel: 'warn',
  oxc: { jsx: { runtime: 'automatic', importSource: 'react' } },
  build: { outDir: 'dist', emptyOutDir: true, target: 'es2022', sourcemap: false, reportCompressedSize: false, assetsInlineLimit: 0 },
});
let gzipBytes = 0;
for (const file of globSync('dist/assets/*.{js,css,svg}', { cwd: portal })) {
  const gz = gzipSync(await readFile(`${portal}${file}`), { level: constants.Z_BEST_COMPRESSION });
  if (file.endsWith('.js')) gzipBytes += gz.length;
  await writeFile(`${portal}${file}.gz`, gz);
}
await writeFile(STAMP, hash);
process.stderr.write(`portal: built in ${((Date.now() - started) / 1000).toFixed(1)} s, JavaScript ${(gzipBytes / 1024).toFixed(1)} KB gzip\n`);
