// Bounded waiting for effects that happen asynchronously (queue deliveries through Miniflare's broker).

/** Calls `probe` until it returns something other than undefined; fails after `timeoutMs`. */
export async function pollUntil(probe, { timeoutMs = 10_000, intervalMs = 25, what = "condition" } = {}) {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() >= deadline) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
