import { execFileSync } from 'node:child_process';
import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * The command-line tools the documents tests check output with: the vendored EN 16931 validator (tools/en16931-cii),
 * poppler's pdftotext and pdfdetach, and qpdf (Debian packages; .ci/run installs them).
 */
function repositoryRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'tools', 'en16931-cii', 'validate'))) {
    const parent = dirname(dir);
    if (parent === dir) throw new Error('tools/en16931-cii/validate not found above the test');
    dir = parent;
  }
  return dir;
}

export interface ValidationResult {
  file: string;
  ok: boolean;
  fatal: number;
  warnings: number;
  schemaErrors: string[];
  rules: Array<{ flag: string; id: string; text: string }>;
  error?: string;
}

/** Runs the EN 16931 CII validator once over all files (one JVM start) and returns its verdict per file. */
export function validateEn16931(files: readonly string[]): ValidationResult[] {
  let output: string;
  try {
    output = execFileSync(join(repositoryRoot(), 'tools', 'en16931-cii', 'validate'), ['--json', ...files], { encoding: 'utf8', maxBuffer: 64 * 1024 * 1024 });
  } catch (error) {
    // Exit status 1 means "some file failed": the JSON lines are still on stdout.
    output = (error as { stdout?: string }).stdout ?? '';
    if (!output) throw error;
  }
  return output
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as ValidationResult);
}

export function pdfText(file: string, options: { first?: number; last?: number } = {}): string {
  const range = [...(options.first ? ['-f', String(options.first)] : []), ...(options.last ? ['-l', String(options.last)] : [])];
  return execFileSync('pdftotext', ['-layout', ...range, file, '-'], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 });
}

export function pdfPageCount(file: string): number {
  const json = JSON.parse(execFileSync('qpdf', ['--json', '--json-key=pages', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 })) as {
    pages: unknown[];
  };
  return json.pages.length;
}

/** qpdf's JSON view of a PDF's objects (qpdf 11, JSON v2). */
export function pdfObjects(file: string): Record<string, { value?: unknown; stream?: { dict: Record<string, unknown>; data?: string } }> {
  const json = JSON.parse(
    execFileSync('qpdf', ['--json=2', '--json-stream-data=inline', '--decode-level=generalized', file], { encoding: 'utf8', maxBuffer: 256 * 1024 * 1024 }),
  ) as {
    qpdf: [unknown, Record<string, { value?: unknown; stream?: { dict: Record<string, unknown>; data?: string } }>];
  };
  return json.qpdf[1];
}

export function qpdfCheck(file: string): string {
  return execFileSync('qpdf', ['--check', file], { encoding: 'utf8' });
}

/** The files embedded in a PDF, as poppler lists them ("1: factur-x.xml"). */
export function pdfAttachments(file: string, saveTo: string): string[] {
  const listing = execFileSync('pdfdetach', ['-list', file], { encoding: 'utf8' });
  execFileSync('pdfdetach', ['-saveall', '-o', saveTo, file]);
  return listing
    .split('\n')
    .slice(1)
    .map((line) => line.replace(/^\d+:\s*/, '').trim())
    .filter(Boolean);
}
