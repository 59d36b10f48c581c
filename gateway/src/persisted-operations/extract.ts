import { readdir, readFile, stat } from 'node:fs/promises';
import { extname, join, relative } from 'node:path';
import type { OperationSource } from './manifest.js';

const GRAPHQL_FILES = new Set(['.graphql', '.gql']);
const CODE_FILES = new Set(['.ts', '.tsx', '.mts', '.cts', '.js', '.jsx', '.mjs', '.cjs']);
const SKIPPED_DIRECTORIES = new Set(['node_modules', 'dist', 'build', '.git', 'coverage']);

/**
 * GraphQL documents inside code: tagged templates (`gql\`...\``, `graphql\`...\``, also `gql(...)`'s template form) and
 * templates marked with a `/* GraphQL *\/` comment. `${...}` interpolations (fragments embedded the Apollo way) are
 * dropped: the fragments they name are found in their own templates.
 */
export function documentsInCode(code: string): string[] {
  const documents: string[] = [];
  const start = /(?:\b(?:gql|graphql)\s*(?:\(\s*)?|\/\*\s*GraphQL\s*\*\/\s*)`/g;
  for (let match = start.exec(code); match; match = start.exec(code)) {
    let index = match.index + match[0].length;
    let text = '';
    let depth = 0;
    for (; index < code.length; index += 1) {
      const char = code[index]!;
      if (depth === 0) {
        if (char === '\\') {
          text += code[index + 1] ?? '';
          index += 1;
        } else if (char === '`') break;
        else if (char === '$' && code[index + 1] === '{') {
          depth = 1;
          index += 1;
        } else text += char;
      } else if (char === '{') depth += 1;
      else if (char === '}') depth -= 1;
    }
    start.lastIndex = index + 1;
    if (text.trim()) documents.push(text);
  }
  return documents;
}

async function walk(path: string, files: string[]): Promise<void> {
  const info = await stat(path);
  if (info.isFile()) {
    files.push(path);
    return;
  }
  for (const entry of await readdir(path, { withFileTypes: true })) {
    if (entry.isDirectory() && (SKIPPED_DIRECTORIES.has(entry.name) || entry.name.startsWith('.'))) continue;
    if (entry.isDirectory() || entry.isFile()) await walk(join(path, entry.name), files);
  }
}

/** Every GraphQL document in the given files and folders (.graphql/.gql whole, code files' embedded documents). */
export async function collectOperationSources(paths: readonly string[], base = process.cwd()): Promise<OperationSource[]> {
  const files: string[] = [];
  for (const path of paths) await walk(path, files);
  const sources: OperationSource[] = [];
  for (const file of files.sort()) {
    const extension = extname(file);
    const location = relative(base, file) || file;
    if (GRAPHQL_FILES.has(extension)) {
      const text = await readFile(file, 'utf8');
      if (text.trim()) sources.push({ location, text });
    } else if (CODE_FILES.has(extension) && !file.endsWith('.d.ts')) {
      documentsInCode(await readFile(file, 'utf8')).forEach((text, index) => sources.push({ location: `${location}#${index + 1}`, text }));
    }
  }
  return sources;
}
