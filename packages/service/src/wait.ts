/**
 * Resolves with the first truthy value of `condition`, polled every `intervalMs`; rejects after `timeoutMs` naming
 * `what`. Code (and tests) wait on the condition they need, never for a fixed time.
 */
export async function waitUntil<T>(
  condition: () => T | Promise<T>,
  what: string,
  options: { timeoutMs?: number; intervalMs?: number } = {},
): Promise<NonNullable<T>> {
  const timeoutMs = options.timeoutMs ?? 20_000;
  const intervalMs = options.intervalMs ?? 25;
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await condition();
    if (value) return value as NonNullable<T>;
    if (Date.now() > deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
