import { mkdir, writeFile } from 'node:fs/promises';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import os from 'node:os';

export interface ResultRow {
  scenario: string;
  target: string;
  met: boolean;
  [metric: string]: string | number | boolean;
}

const RESULTS_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'results');

/** Prints the rows as a table and saves them, with the machine they ran on, as JSON under bench/results. */
export async function report(name: string, rows: ResultRow[], parameters: Record<string, unknown>): Promise<string> {
  console.table(rows);
  await mkdir(RESULTS_DIR, { recursive: true });
  const stamp = new Date().toISOString().replace(/[:.]/g, '-');
  const file = join(RESULTS_DIR, `${name}-${stamp}.json`);
  const machine = { cpus: os.cpus().length, cpuModel: os.cpus()[0]?.model, memoryGiB: Math.round(os.totalmem() / 2 ** 30), node: process.version };
  await writeFile(file, `${JSON.stringify({ benchmark: name, at: new Date().toISOString(), machine, parameters, rows }, null, 2)}\n`);
  console.log(`saved ${file}`);
  return file;
}
