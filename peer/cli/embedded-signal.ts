/**
 * The signaling server `movie-share` runs in its own process when none is
 * reachable (or when it is given `--tls-cert/--tls-key`): start it, connect to
 * it over 127.0.0.1, and say which URL a receiver on another machine uses.
 * The server is loaded only here, with `await import(…)`: a plain share never
 * loads it.
 */
import { networkInterfaces } from 'node:os';
import { rootCertificates } from 'node:tls';
import { usageError } from '../../common/errors.js';
import type { RunningSignalServer, TlsFiles } from '../../signaling/server/index.js';
import { SignalClient, type SignalClientOptions } from '../rendezvous/signal-client.js';

/** `--tls-cert`/`--tls-key` of movie-share, read and checked (exit 2 with a sentence naming the file). */
export async function readShareTls(certFile: string | undefined, keyFile: string | undefined, signalGiven: boolean): Promise<TlsFiles | undefined> {
  if (!certFile && !keyFile) return undefined;
  if (!certFile || !keyFile) throw usageError('--tls-cert and --tls-key go together: give both (or neither).');
  if (signalGiven) {
    throw usageError('--tls-cert and --tls-key are for the signaling server movie-share runs itself; they cannot be combined with --signal or MOVIE_SIGNAL_URL.');
  }
  const { readTlsFiles } = await import('../../signaling/server/tls.js');
  return readTlsFiles(certFile, keyFile);
}

function lanAddress(): string {
  for (const list of Object.values(networkInterfaces())) {
    for (const a of list ?? []) if (a.family === 'IPv4' && !a.internal) return a.address;
  }
  return '127.0.0.1';
}

/** The host a receiver uses: the LAN address, unless the certificate does not name it and names a host (then a browser could not verify it at the address). */
function publicHost(lan: string, tls: TlsFiles | undefined): string {
  if (!tls || tls.ipAddresses.includes(lan)) return lan;
  return tls.dnsNames.find((n) => !n.includes('*') && n !== 'localhost') ?? lan;
}

/**
 * Trust exactly our own server's certificate: its fingerprint is pinned in
 * place of the host-name check (we connect to 127.0.0.1, which a certificate
 * rarely names). The chain check still runs first, so the trusted roots are
 * the certificate itself when self-signed, else it and its chain plus the
 * usual public roots.
 */
function trustOwnCertificate(tls: TlsFiles): NonNullable<SignalClientOptions['tls']> {
  const certs = tls.certificates;
  const fingerprint = tls.leaf.fingerprint256;
  return {
    ca: tls.leaf.checkIssued(tls.leaf) ? certs : [...certs, ...rootCertificates],
    checkServerIdentity: (_host, cert) => (cert.fingerprint256 === fingerprint ? undefined : new Error('the server on 127.0.0.1 did not present our own certificate')),
  };
}

export interface EmbeddedSignal {
  server: RunningSignalServer;
  client: SignalClient;
  /** what a receiver on another machine uses: `http(s)://<LAN address or the certificate's host>:PORT` */
  publicUrl: string;
  /** whether the server serves the browser page (it is built in, or `MOVIE_PAGE_DIR` names one) */
  servesPage: boolean;
  /** another connection to it, as `client` was made (for the meeting room when reconnecting) */
  connect: () => Promise<SignalClient>;
}

/** Start the server on 0.0.0.0 (port 8080, else any free port) and connect to it. `pageDir` overrides the page's folder (`MOVIE_PAGE_DIR`). */
export async function startEmbeddedSignal(tls: TlsFiles | undefined, pageDir: string | undefined): Promise<EmbeddedSignal> {
  // loaded only here: the server (socket.io, prom-client) takes ~100 ms to load
  const { startSignalServer } = await import('../../signaling/server/index.js');
  const opts = { host: '0.0.0.0', ...(tls ? { tls: { cert: tls.cert, key: tls.key } } : {}), ...(pageDir ? { pageDir } : {}) };
  let server: RunningSignalServer;
  try {
    server = await startSignalServer({ ...opts, port: 8080 });
  } catch {
    server = await startSignalServer({ ...opts, port: 0 });
  }
  try {
    const scheme = tls ? 'https' : 'http';
    const connect = (): Promise<SignalClient> => SignalClient.connect({ url: `${scheme}://127.0.0.1:${server.port}`, ...(tls ? { tls: trustOwnCertificate(tls) } : {}) });
    const client = await connect();
    return { server, client, publicUrl: `${scheme}://${publicHost(lanAddress(), tls)}:${server.port}`, servesPage: server.pageDir !== undefined, connect };
  } catch (e) {
    await server.close();
    throw e;
  }
}
