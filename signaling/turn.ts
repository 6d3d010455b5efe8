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

/**
 * Default lifetime of minted TURN credentials: 1 hour, not a day. They are
 * used when the peer allocates (seconds after they are minted) and for the
 * allocation's refreshes every 9 minutes and any reconnection of a relayed
 * transfer, so they must outlive a long relayed transfer: an hour covers a
 * multi-GB transfer through a relay and its reconnects. Anything longer only
 * widens the window in which a leaked credential (logs, a shared screen)
 * lets someone else relay through our TURN server. Deployments with longer
 * relayed transfers raise `ttlSeconds` (docs/DEPLOY.md).
 */
export const DEFAULT_TURN_TTL_SECONDS = 3600;

export function turnRestCredentials(cfg: TurnSecretConfig, nowMs = Date.now()): IceServerConfig {
  const expiry = Math.floor(nowMs / 1000) + (cfg.ttlSeconds ?? DEFAULT_TURN_TTL_SECONDS);
  const username = `${expiry}:${randomBytes(6).toString('hex')}`;
  const credential = createHmac('sha1', cfg.secret).update(username).digest('base64');
  return { urls: [...cfg.urls], username, credential };
}
