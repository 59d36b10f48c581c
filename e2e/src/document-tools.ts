import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const REPOSITORY = fileURLToPath(new URL('../../', import.meta.url));

/** GET on a fresh connection; the body as bytes. */
export async function download(url: string): Promise<{ status: number; type: string | null; body: Buffer }> {
  const response = await fetch(url, { headers: { connection: 'close' } });
  return { status: response.status, type: response.headers.get('content-type'), body: Buffer.from(await response.arrayBuffer()) };
}

/** The text of a PDF (poppler's pdftotext, layout kept). */
export function pdfText(pdf: Buffer): string {
  return execFileSync('pdftotext', ['-layout', '-', '-'], { input: pdf, encoding: 'utf8' });
}

export interface Verdict {
  file: string;
  ok: boolean;
  fatal: number;
  schemaErrors: string[];
}

/** The vendored EN 16931 CII validator (official schema and schematron) over files, in one JVM start. */
export function validateEn16931(files: readonly string[]): Verdict[] {
  let output: string;
  try {
    output = execFileSync(join(REPOSITORY, 'tools', 'en16931-cii', 'validate'), ['--json', ...files], { encoding: 'utf8', maxBuffer: 16 * 1024 * 1024 });
  } catch (error) {
    // Exit status 1 means "some file failed": the verdicts are still on stdout.
    output = (error as { stdout?: string }).stdout ?? '';
    if (!output) throw error;
  }
  return output
    .trim()
    .split('\n')
    .map((line) => JSON.parse(line) as Verdict);
}
