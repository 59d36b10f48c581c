import { mkdir, mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type BrowserContext, type Page } from 'playwright-core';
import { TEST_CHROMIUM_PATH } from './harness.js';

/** The flags every headless run gets: nothing reaches out to the network on its own, no GPU, no first-run UI. */
export const CHROMIUM_ARGS = [
  '--headless',
  '--no-sandbox',
  '--disable-gpu',
  '--disable-quic',
  '--no-first-run',
  '--disable-background-networking',
  '--disable-component-update',
  '--disable-sync',
];

export interface TestBrowser {
  context: BrowserContext;
  newPage(): Promise<Page>;
  close(): Promise<void>;
}

/**
 * Debian's chromium (TEST_CHROMIUM_PATH) driven by playwright-core, with a fresh profile (user-data-dir) per launch;
 * never a downloaded browser. `hostResolverRules` maps names to addresses (custom domains on loopback);
 * `ignoreHttpsErrors` accepts certificates of a local test CA.
 */
export async function launchBrowser(
  options: { hostResolverRules?: string; viewport?: { width: number; height: number }; locale?: string; ignoreHttpsErrors?: boolean } = {},
): Promise<TestBrowser> {
  const profile = await mkdtemp(join(tmpdir(), 'saldo-chromium-'));
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: TEST_CHROMIUM_PATH,
    headless: true,
    args: [...CHROMIUM_ARGS, ...(options.hostResolverRules ? [`--host-resolver-rules=${options.hostResolverRules}`] : [])],
    viewport: options.viewport ?? { width: 1280, height: 800 },
    locale: options.locale ?? 'en-GB',
    // The portal's Content-Security-Policy allows only its own scripts; axe-core is injected by the tests.
    bypassCSP: true,
    acceptDownloads: true,
    // Certificates of a local test CA (pebble) that chromium cannot be told to trust.
    ignoreHTTPSErrors: options.ignoreHttpsErrors ?? false,
  });
  return {
    context,
    newPage: () => context.newPage(),
    async close() {
      await context.close().catch(() => undefined);
      await rm(profile, { recursive: true, force: true });
    },
  };
}

/** Where screenshots of failed browser tests go (`e2e/artifacts/`, kept out of git). */
export async function saveScreenshot(page: Page, directory: string, name: string): Promise<string> {
  await mkdir(directory, { recursive: true });
  const path = join(directory, `${name.replace(/[^a-zA-Z0-9-]+/g, '-').slice(0, 80)}.png`);
  await page.screenshot({ path, fullPage: true }).catch(() => undefined);
  return path;
}

let axeSource: string | undefined;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: Array<{ target: unknown[]; failureSummary?: string }>;
}

/** Runs axe-core on the page as it is now; returns the violations of the given impacts (serious and critical). */
export async function axeViolations(page: Page, impacts: string[] = ['serious', 'critical']): Promise<AxeViolation[]> {
  axeSource ??= await readFile(createRequire(import.meta.url).resolve('axe-core/axe.min.js'), 'utf8');
  if (!(await page.evaluate(() => 'axe' in globalThis))) await page.addScriptTag({ content: axeSource });
  const violations = await page.evaluate(async () => {
    const result = await (globalThis as unknown as { axe: { run(): Promise<{ violations: AxeViolation[] }> } }).axe.run();
    return result.violations.map((violation) => ({
      id: violation.id,
      impact: violation.impact,
      help: violation.help,
      nodes: violation.nodes.map((node) => ({ target: node.target, failureSummary: node.failureSummary })),
    }));
  });
  return violations.filter((violation) => violation.impact !== null && impacts.includes(violation.impact));
}
