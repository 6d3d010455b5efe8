/** Sizes as people read them, the same in the CLIs' progress and the page: decimal units, three significant digits. */
export function formatBytes(n: number): string {
  const units = ['B', 'KB', 'MB', 'GB', 'TB'];
  let v = n;
  let u = 0;
  while (v >= 1000 && u < units.length - 1) {
    v /= 1000;
    u++;
  }
  return `${u === 0 ? v : v.toFixed(v < 10 ? 2 : 1)} ${units[u]}`;
}

const RATE_UNITS: Record<string, number> = { '': 1, k: 1e3, m: 1e6, g: 1e9, ki: 2 ** 10, mi: 2 ** 20, gi: 2 ** 30 };

/** A rate as people write it ("500K", "5M", "1.5MiB/s"; K, M, G: powers of 1000, Ki, Mi, Gi: of 1024) in bytes per second; NaN when it is not one. */
export function parseRate(v: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*(k|m|g|ki|mi|gi)?\s*(?:b|bytes?)?(?:\/s)?\s*$/i.exec(v);
  return m ? Math.round(Number(m[1]) * RATE_UNITS[(m[2] ?? '').toLowerCase()]!) : NaN;
}
