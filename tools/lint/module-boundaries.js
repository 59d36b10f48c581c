// ESLint rule `saldo/module-boundaries`: a service's modules talk to each other only through their public surface.
//
// A module is a folder directly under a service's src/ (subgraphs/*/src, gateway/src) that has an index.ts:
// billing's ledger/, usage/, payments/, documents/, ... Inside a module, files import each other freely. From
// anywhere else (another module, the service's definition.ts, its shared/ folder) only the module's index.ts may be
// imported: `../ledger/index.js`, never `../ledger/services/ledger-service.js`. Type-only imports and re-exports
// count too: a type reaching past the surface is a dependency on the module's insides all the same.
import { existsSync } from 'node:fs';
import path from 'node:path';

const SERVICE_SOURCE = /^(.*[\\/](?:subgraphs[\\/][^\\/]+|gateway)[\\/]src)[\\/]/;

/** The service's src directory holding `file`, or null outside a service. */
function serviceSource(file) {
  const match = SERVICE_SOURCE.exec(file);
  return match ? match[1] : null;
}

/** The module (folder directly under src with an index.ts) that holds `file`, or null. */
function moduleOf(srcDir, file) {
  const relative = path.relative(srcDir, file);
  const [first, ...rest] = relative.split(path.sep);
  if (!first || rest.length === 0 || first === '..') return null;
  return existsSync(path.join(srcDir, first, 'index.ts')) ? first : null;
}

/** `./x.js` in TypeScript source names `./x.ts`; a folder import names its index.ts. */
function sourceFile(resolved) {
  if (/\.js$/.test(resolved)) return resolved.replace(/\.js$/, '.ts');
  if (/\.ts$/.test(resolved)) return resolved;
  return path.join(resolved, 'index.ts');
}

export const moduleBoundaries = {
  meta: {
    type: 'problem',
    docs: { description: 'Modules of a service are imported only through their index.ts (their public surface).' },
    messages: {
      pastSurface:
        "'{{specifier}}' reaches into the {{module}} module; import it from its public surface '{{surface}}' (export what you need from {{module}}/index.ts).",
    },
    schema: [],
  },
  create(context) {
    const file = context.physicalFilename ?? context.filename;
    const srcDir = serviceSource(file);
    if (!srcDir) return {};
    const ownModule = moduleOf(srcDir, file);

    function check(node) {
      const specifier = node.source?.value;
      if (typeof specifier !== 'string' || !specifier.startsWith('.')) return;
      const target = sourceFile(path.resolve(path.dirname(file), specifier));
      const targetModule = moduleOf(srcDir, target);
      if (!targetModule || targetModule === ownModule) return;
      const surface = path.join(srcDir, targetModule, 'index.ts');
      if (target === surface) return;
      let relativeSurface = path.relative(path.dirname(file), surface).split(path.sep).join('/').replace(/\.ts$/, '.js');
      if (!relativeSurface.startsWith('.')) relativeSurface = `./${relativeSurface}`;
      context.report({ node: node.source, messageId: 'pastSurface', data: { specifier, module: targetModule, surface: relativeSurface } });
    }

    return {
      ImportDeclaration: check,
      ExportNamedDeclaration: check,
      ExportAllDeclaration: check,
      ImportExpression: check,
    };
  },
};

export default { rules: { 'module-boundaries': moduleBoundaries } };
