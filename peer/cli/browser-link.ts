/**
 * The link `movie-share` prints for a receiver with a browser: the page the
 * signaling server serves at `/`, with the code in the fragment (`URL/#CODE`:
 * a fragment never leaves the browser, so the code reaches no server log, no
 * proxy and no Referer). Printed only when the page would be a secure
 * context, because WebCrypto, OPFS and service workers exist only there.
 */

/** True when a page loaded from `url` is a secure context: https, or http on the browser's own machine (localhost, 127.x.x.x, [::1]). */
export function isSecureContextUrl(url: string): boolean {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return false;
  }
  if (u.protocol === 'https:' || u.protocol === 'wss:') return true;
  if (u.protocol !== 'http:' && u.protocol !== 'ws:') return false;
  return u.hostname === 'localhost' || u.hostname === '[::1]' || /^127\.\d{1,3}\.\d{1,3}\.\d{1,3}$/.test(u.hostname);
}

/** `ORIGIN/#CODE` for the signaling server at `signalUrl` (ws: and wss: become http: and https:), or undefined when that page would not be a secure context. */
export function browserLink(signalUrl: string, code: string): string | undefined {
  if (!isSecureContextUrl(signalUrl)) return undefined;
  const u = new URL(signalUrl);
  if (u.protocol === 'ws:') u.protocol = 'http:';
  if (u.protocol === 'wss:') u.protocol = 'https:';
  return `${u.origin}/#${code}`;
}

/** Why there is no link, for --verbose. */
export const NO_BROWSER_LINK =
  'no browser link: the page needs a secure context (https, or http on the same machine); give --tls-cert/--tls-key, or use a signaling server behind HTTPS';
