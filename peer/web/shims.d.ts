/** The browser `process` shim has no types of its own; the page uses only what simple-peer needs. */
declare module 'process/browser.js' {
  const process: { nextTick(fn: (...args: unknown[]) => void, ...args: unknown[]): void; env: Record<string, string | undefined> };
  export default process;
}
