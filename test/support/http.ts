/**
 * One raw HTTP(S) request for tests of what a server answers: the path goes
 * on the wire exactly as given (no `..` or `%2e` normalisation, which fetch
 * and URL would do), no connection pooling, and for HTTPS the certificate(s)
 * to trust in `ca`.
 */
import http from 'node:http';
import https from 'node:https';

export interface RawResponse {
  status: number;
  headers: http.IncomingHttpHeaders;
  body: string;
}

export function rawRequest(base: string, path: string, opts: { method?: string; headers?: Record<string, string>; ca?: string } = {}): Promise<RawResponse> {
  const u = new URL(base);
  const secure = u.protocol === 'https:';
  const options: https.RequestOptions = {
    host: u.hostname,
    port: Number(u.port),
    path,
    method: opts.method ?? 'GET',
    headers: opts.headers ?? {},
    agent: false,
    timeout: 10_000,
    ...(secure && opts.ca ? { ca: opts.ca } : {}),
  };
  return new Promise((resolve, reject) => {
    const req = (secure ? https : http).request(options, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, headers: res.headers, body }));
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error(`no answer to ${opts.method ?? 'GET'} ${path} within 10 s`)));
    req.on('error', reject);
    req.end();
  });
}
