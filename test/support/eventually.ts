/**
 * Waiting on something that happens elsewhere (another process, the server's
 * side of a socket) without a bare sleep: retry `check` until it stops
 * throwing, and fail with its last error once `timeoutMs` has passed. The
 * bound is a ceiling for a loaded machine, not a guess at how long it takes.
 */
export async function eventually<T>(check: () => T | Promise<T>, timeoutMs = 5000, everyMs = 20): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    try {
      return await check();
    } catch (e) {
      if (Date.now() >= deadline) throw e;
    }
    await new Promise((r) => setTimeout(r, everyMs));
  }
}
