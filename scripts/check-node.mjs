// The Node.js version guard in front of `pnpm install`, `pnpm start`, `pnpm test` (package.json). On an older Node
// those would only warn and then fail far from the cause (`node:fs` has no `globSync` before 22.17; MikroORM 7 needs
// 22.17), so this stops at once with one line naming the required version and how to get it.
//
// Deliberately plain JavaScript importing only node:fs and node:url: it must run, and say something useful, on the old
// Node it refuses. The version it checks is the running one; SALDO_CHECK_NODE_VERSION replaces it, so the tests can
// show what an old Node sees without installing one.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

const REQUIRED_FALLBACK = '>=22.17';

/** The engines.node range of the repository's package.json: only the `>=X.Y[.Z]` form is used there. */
export function requiredRange(packageJsonText) {
  try {
    const range = JSON.parse(packageJsonText).engines.node;
    return typeof range === 'string' && /^>=\s*\d+(\.\d+){0,2}$/.test(range.trim()) ? range.trim() : REQUIRED_FALLBACK;
  } catch {
    return REQUIRED_FALLBACK;
  }
}

function parts(version) {
  return String(version)
    .replace(/^v/, '')
    .split('.')
    .map((part) => Number.parseInt(part, 10) || 0)
    .concat([0, 0, 0])
    .slice(0, 3);
}

/** True when `version` (e.g. "20.19.0" or "v24.1.0") satisfies `>=X.Y.Z`. */
export function satisfies(version, range) {
  const have = parts(version);
  const need = parts(range.replace(/^>=\s*/, ''));
  for (let i = 0; i < 3; i += 1) {
    if (have[i] !== need[i]) return have[i] > need[i];
  }
  return true;
}

/** The npm package holding a Node 24 binary for this machine (what .ci/run installs on Linux x64). */
export function nodeBinaryPackage(platform, arch) {
  return `node-${platform === 'win32' ? 'win' : platform}-${arch}`;
}

/** The one line shown when `version` is too old; null when it will do. */
export function nodeVersionProblem({ version, range, execPath = 'node', platform = 'linux', arch = 'x64' }) {
  if (satisfies(version, range)) return null;
  const wanted = range.replace(/^>=\s*/, '');
  const pkg = nodeBinaryPackage(platform, arch);
  return (
    `Saldo needs Node.js ${wanted} or newer (24 LTS recommended), but this is Node ${String(version).replace(/^v/, '')} (${execPath}). ` +
    `Install Node 24 with a version manager (\`nvm install 24\`, \`fnm install 24\`) or from the npm registry: ` +
    `\`npm install --prefix ~/.saldo-node ${pkg}@24 && export PATH=~/.saldo-node/node_modules/${pkg}/bin:$PATH\`, then run the command again.`
  );
}

// Run as a script (package.json): check this Node, print the line and exit 1 when it is too old.
if (process.argv[1] === fileURLToPath(import.meta.url)) {
  let packageJsonText = '';
  try {
    packageJsonText = readFileSync(new URL('../package.json', import.meta.url), 'utf8');
  } catch {
    // The fallback range applies.
  }
  const problem = nodeVersionProblem({
    version: process.env.SALDO_CHECK_NODE_VERSION || process.versions.node,
    range: requiredRange(packageJsonText),
    execPath: process.execPath,
    platform: process.platform,
    arch: process.arch,
  });
  if (problem) {
    process.stderr.write(`${problem}\n`);
    process.exit(1);
  }
}
