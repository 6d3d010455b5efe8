/**
 * TURN credentials in coturn's REST scheme (`use-auth-secret`): the username
 * is `<expiry-unix-seconds>:<random>` and the password is
 * base64(HMAC-SHA1(secret, username)). Minted per create/join reply, so no
 * long-lived TURN password ever reaches a client.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { IceServerConfig } from '../common/protocol/signal-protocol.js';

export interface TurnSecretConfig {
  secret: string;
  urls: string[];
  ttlSeconds?: number;
}

export function turnRestCredentials(cfg: TurnSecretConfig, nowMs = Date.now()): IceServerConfig {
  const expiry = Math.floor(nowMs / 1000) + (cfg.ttlSeconds ?? 3600);
  const username = `${expiry}:${randomBytes(6).toString('hex')}`;
  const credential = createHmac('sha1', cfg.secret).update(username).digest('base64');
  return { urls: [...cfg.urls], username, credential };
}
