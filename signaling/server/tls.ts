/**
 * HTTPS for the server itself (`--tls-cert FILE --tls-key FILE` on
 * `movie-signal`, and on `movie-share` for the server it embeds): read and
 * check the two PEM files before anything is opened, so a bad file is one
 * sentence naming it (exit 2), never a stack trace from `https.createServer`.
 */
import { X509Certificate, createPrivateKey } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { createSecureContext } from 'node:tls';
import { usageError } from '../../common/errors.js';

/** What `SignalServerOptions.tls` takes: the PEM texts. */
export interface TlsPem {
  /** the certificate, optionally followed by its chain */
  cert: string;
  key: string;
}

export interface TlsFiles extends TlsPem {
  /** each certificate of `cert` (PEM), the leaf first */
  certificates: string[];
  /** the leaf certificate, parsed */
  leaf: X509Certificate;
  /** the names the leaf is valid for (its subjectAltName entries) */
  dnsNames: string[];
  ipAddresses: string[];
}

const PEM_CERT = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;

function readPem(file: string, what: string): string {
  try {
    return readFileSync(file, 'utf8');
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    const why = err.code === 'ENOENT' ? 'no such file' : err.code === 'EACCES' ? 'permission denied' : err.code === 'EISDIR' ? 'it is a folder' : err.message;
    throw usageError(`Cannot read the TLS ${what} ${file}: ${why}.`);
  }
}

/** Read `--tls-cert` and `--tls-key`; a usage error (exit 2) naming the file when either is unreadable, not PEM, or the two do not belong together. */
export function readTlsFiles(certFile: string, keyFile: string): TlsFiles {
  const cert = readPem(certFile, 'certificate');
  const key = readPem(keyFile, 'key');
  const certificates = cert.match(PEM_CERT) ?? [];
  const first = certificates[0];
  let leaf: X509Certificate;
  try {
    if (!first) throw new Error('no certificate');
    leaf = new X509Certificate(first);
  } catch {
    throw usageError(`The TLS certificate ${certFile} is not a PEM certificate (-----BEGIN CERTIFICATE-----).`);
  }
  let privateKey;
  try {
    privateKey = createPrivateKey(key);
  } catch {
    throw usageError(`The TLS key ${keyFile} is not an unencrypted PEM private key.`);
  }
  if (!leaf.checkPrivateKey(privateKey)) throw usageError(`The TLS key ${keyFile} does not belong to the certificate ${certFile}.`);
  try {
    createSecureContext({ cert, key });
  } catch (e) {
    throw usageError(`The TLS certificate ${certFile} cannot be used with the key ${keyFile}: ${(e as Error).message}.`);
  }
  const dnsNames: string[] = [];
  const ipAddresses: string[] = [];
  for (const entry of (leaf.subjectAltName ?? '').split(', ')) {
    if (entry.startsWith('DNS:')) dnsNames.push(entry.slice(4));
    else if (entry.startsWith('IP Address:')) ipAddresses.push(entry.slice(11));
  }
  return { cert, key, certificates, leaf, dnsNames, ipAddresses };
}

/** Throws (a usage error) when the PEM texts cannot make a TLS server; called before anything is opened. */
export function checkTlsPem(tls: TlsPem): void {
  try {
    createSecureContext({ cert: tls.cert, key: tls.key });
  } catch (e) {
    throw usageError(`The TLS certificate and key cannot be used: ${(e as Error).message}.`);
  }
}
