/**
 * The MTU of the data channel, chosen from what both sides know of their links.
 *
 * libdatachannel sends every SCTP packet at the configured MTU (it has no path
 * MTU discovery) and fixes it when the PeerConnection is built. The SCTP
 * stack's cost is per packet, so 4096 moves data ~2x faster than 1280 on
 * loopback (docs/PERFORMANCE.md); but a datagram larger than the path MTU is
 * fragmented or dropped, and networks that drop fragments would lose every
 * full-size packet. So the size is only raised when the path is provably one
 * link whose MTU both sides can read:
 *
 *  - each side tells the other (sealed, right after the PAKE) the addresses it
 *    gathers ICE host candidates on, with their prefix length and their
 *    interface's MTU (procfs, else sysfs);
 *  - a *shared link* is a pair of addresses, one per side, each inside the
 *    other's prefix; two equal addresses count only on loopback (127.0.0.0/8,
 *    ::1: then both sides are on this machine), since equal private addresses
 *    on two machines (docker0, virbr0) are two different networks;
 *  - the MTU is the smallest MTU of any shared link, capped at 4096 (libjuice
 *    reads datagrams into a 4096-byte buffer), and 1280 (safe on any path) when
 *    there is no shared link, when a TURN server is configured (a relayed path
 *    may be chosen), or when an interface's MTU cannot be read.
 *
 * A side that may use a TURN relay (`--relay-only`, or a TURN server
 * configured) lists no links at all (hintLinks): `--relay-only` promises that
 * the other side never learns this side's addresses, and over a relay the MTU
 * is 1280 anyway. The other side then treats it as it treats a browser.
 *
 * One machine is one machine: two processes on one host may connect over its
 * non-loopback address (ICE gathers no loopback candidates unless bound to
 * one), and then the two equal addresses prove no link. So each Node side also
 * sends a `host` value (hostValue): an HMAC, keyed with a key of this session
 * (SessionKeys.sameHost), over the kernel's boot id and the identity of this
 * process's network namespace. Equal values mean both sides run on one kernel
 * in one network namespace: every path between them, whichever local address
 * ICE picks, is routed inside that kernel (through `lo`), so the MTU is 4096
 * like loopback's, unless a TURN relay is configured on either side (a
 * relayed pair may be chosen) or `--mtu` says otherwise. The value reveals
 * only that (it is sealed, and keyed per session so that it links nothing
 * across transfers); where there is no /proc (not Linux) no value is sent and
 * the rules above apply.
 *
 * An explicit `--mtu` / `MOVIE_MTU` wins, except over a side that lists no
 * links (a browser, or a side behind TURN): Chromium stalled receiving at
 * 4096, so 1280 is the most a browser gets. Each side caps the packets *it*
 * sends, so it is the host's choice that sets the speed of the file.
 */
import { readFileSync, statSync } from 'node:fs';
import { networkInterfaces } from 'node:os';
import { BlockList, isIPv4, isIPv6 } from 'node:net';
import type { LinkHint, MtuChoice } from '../rendezvous/peer-factory.js';
import { createHmac } from 'node:crypto';
import { constantTimeEqual, lengthPrefixed } from '../../common/crypto/mac.js';
import { fromBase64, isBase64, toBase64, utf8 } from '../../common/bytes.js';

export type { LinkHint, MtuChoice };

/** What a side tells the other about its links (the `net` signal). */
export interface NetHint {
  type: 'net';
  links: LinkHint[];
  /** the same-host value (hostValue), when the side sent one */
  host?: string;
}

/** Both sides' same-host values (hostValue), as chooseMtu compares them. */
export interface HostValues {
  mine?: string;
  theirs?: string;
}

/** Fits every IPv6 path by definition, and in practice every IPv4 path, tunnels and TURN included. */
export const SAFE_MTU = 1280;
/** libjuice reads each datagram into a 4096-byte buffer: larger ones never arrive. */
export const MAX_MTU = 4096;
const MAX_LINKS = 32;
/** base64 of an HMAC-SHA256 tag */
const HOST_VALUE_CHARS = 44;
const HOST_LABEL = utf8('movie-share/v1 same host');

const isLoopback = (a: string): boolean => (isIPv4(a) && a.startsWith('127.')) || a === '::1';
const family = (a: string): 'ipv4' | 'ipv6' | undefined => (isIPv4(a) ? 'ipv4' : isIPv6(a) ? 'ipv6' : undefined);

/**
 * The interface's MTU. /proc/sys/net/ipv6/conf/IF/mtu first: procfs always
 * shows this process's network namespace (sysfs shows the one it was mounted
 * in), and the IPv6 MTU is never above the link's. Then /sys/class/net/IF/mtu
 * (IPv6 disabled on the interface).
 */
function interfaceMtu(name: string): number | undefined {
  if (!/^[\w.@:-]+$/.test(name)) return undefined;
  for (const file of [`/proc/sys/net/ipv6/conf/${name}/mtu`, `/sys/class/net/${name}/mtu`]) {
    try {
      const n = Number(readFileSync(file, 'utf8').trim());
      if (Number.isInteger(n) && n >= 576) return n;
    } catch {
      // not there: the next source
    }
  }
  return undefined;
}

/**
 * Our links, as our ICE agent gathers them: the bind address alone when there
 * is one, else every non-loopback, non-link-local address (libjuice skips
 * loopback unless bound to it). Links whose MTU cannot be read are left out.
 */
export function localLinks(bindAddress?: string): LinkHint[] {
  const bound = bindAddress && bindAddress !== '0.0.0.0' && bindAddress !== '::' ? bindAddress : undefined;
  const out: LinkHint[] = [];
  for (const [name, addrs] of Object.entries(networkInterfaces())) {
    const mtu = interfaceMtu(name);
    for (const a of addrs ?? []) {
      if (bound ? a.address !== bound : a.internal || a.address.toLowerCase().startsWith('fe80:')) continue;
      const prefix = Number((a.cidr ?? '').split('/')[1]);
      if (mtu !== undefined && Number.isInteger(prefix)) out.push({ address: a.address, prefix, mtu });
    }
  }
  // any 127.x address works on Linux's loopback without being listed on `lo`
  if (bound && out.length === 0 && isLoopback(bound)) {
    const mtu = interfaceMtu('lo');
    if (mtu !== undefined) out.push({ address: bound, prefix: bound === '::1' ? 128 : 8, mtu });
  }
  return out.slice(0, MAX_LINKS);
}

/**
 * The links our sealed net hint lists: none when a TURN relay may carry the
 * data (`relayOnly`, or `turnConfigured`), so no local address, prefix or MTU
 * leaves this machine; else localLinks(bindAddress).
 */
export function hintLinks(opts: { bindAddress?: string; relayOnly: boolean; turnConfigured: boolean }): LinkHint[] {
  if (opts.relayOnly || opts.turnConfigured) return [];
  return localLinks(opts.bindAddress);
}

/**
 * What makes this process's kernel and network namespace this one: the
 * kernel's boot id (a random UUID per boot, the same in every container on
 * that kernel) and the device and inode of /proc/self/ns/net (unique per
 * network namespace while the kernel runs). Undefined without procfs (not
 * Linux, or /proc not mounted).
 */
export function machineIdentity(): Uint8Array | undefined {
  try {
    const boot = readFileSync('/proc/sys/kernel/random/boot_id', 'utf8').trim();
    if (!/^[0-9a-f-]{16,64}$/i.test(boot)) return undefined;
    const ns = statSync('/proc/self/ns/net');
    if (!ns.ino) return undefined;
    return lengthPrefixed(utf8(boot.toLowerCase()), utf8(`${ns.dev}:${ns.ino}`));
  } catch {
    return undefined;
  }
}

/**
 * Our `host` value: HMAC-SHA256 under this session's same-host key of the
 * machine identity (machineIdentity()), base64; undefined without one. Equal for two processes of one session on one
 * kernel and network namespace; tells nothing else (nor links two sessions).
 */
export function hostValue(key: Uint8Array, identity: Uint8Array | undefined): string | undefined {
  return identity ? toBase64(createHmac('sha256', key).update(lengthPrefixed(HOST_LABEL, identity)).digest()) : undefined;
}

/**
 * The `host` value our sealed net hint carries: none when a TURN relay may
 * carry the data (like hintLinks: `--relay-only` tells nothing of this
 * machine, and over a relay the MTU is 1280 anyway), else hostValue(key).
 */
export function hintHost(key: Uint8Array, opts: { relayOnly: boolean; turnConfigured: boolean }): string | undefined {
  if (opts.relayOnly || opts.turnConfigured) return undefined;
  return hostValue(key, machineIdentity());
}

/** 32 bytes in canonical base64: 43 characters and one `=` */
const isHostValue = (v: unknown): v is string => isBase64(v, HOST_VALUE_CHARS) && v.length === HOST_VALUE_CHARS && /[^=]=$/.test(v);

/** Both sides sent a host value, and the values are equal (compared in constant time). */
function sameHost({ mine, theirs }: HostValues): boolean {
  return isHostValue(mine) && isHostValue(theirs) && constantTimeEqual(fromBase64(mine), fromBase64(theirs));
}

/** The other side's hint, checked: it is sealed under the PAKE keys, but it is still input. */
export function parseNetHint(v: unknown): NetHint | undefined {
  if (typeof v !== 'object' || v === null || (v as { type?: unknown }).type !== 'net') return undefined;
  const links = (v as { links?: unknown }).links;
  if (!Array.isArray(links) || links.length > MAX_LINKS) return undefined;
  const ok: LinkHint[] = [];
  for (const l of links as unknown[]) {
    if (typeof l !== 'object' || l === null) return undefined;
    const { address, prefix, mtu } = l as Record<string, unknown>;
    if (typeof address !== 'string' || !family(address)) return undefined;
    const max = family(address) === 'ipv4' ? 32 : 128;
    if (!Number.isInteger(prefix) || (prefix as number) < 0 || (prefix as number) > max) return undefined;
    if (!Number.isInteger(mtu) || (mtu as number) < 576 || (mtu as number) > 1 << 20) return undefined;
    ok.push({ address, prefix: prefix as number, mtu: mtu as number });
  }
  const host = (v as { host?: unknown }).host;
  if (host === undefined) return { type: 'net', links: ok };
  if (!isHostValue(host)) return undefined;
  return { type: 'net', links: ok, host };
}

function inPrefix(address: string, net: LinkHint): boolean {
  const f = family(net.address);
  if (!f || family(address) !== f) return false;
  const b = new BlockList();
  b.addSubnet(net.address, net.prefix, f);
  return b.check(address, f);
}

/** Which MTU our connection uses (see the top of this file). */
export function chooseMtu(explicit: number | undefined, mine: LinkHint[], theirs: LinkHint[], turnConfigured: boolean, hosts: HostValues = {}): MtuChoice {
  // A page cannot read its links, so it lists none (peer/web/browser-peer.ts); nor does a
  // side behind TURN (hintLinks). Chromium stalled receiving from us at 4096 and worked
  // at 1280: cap, even over --mtu.
  if (theirs.length === 0) {
    if (explicit !== undefined && explicit <= SAFE_MTU) return { mtu: explicit, reason: 'set by --mtu / MOVIE_MTU' };
    return {
      mtu: SAFE_MTU,
      reason: `the other side lists no links (a browser, or a side that may use a TURN relay)${explicit !== undefined ? `: --mtu ${explicit} capped` : ''}; such a side gets at most ${SAFE_MTU}`,
    };
  }
  if (explicit !== undefined) return { mtu: explicit, reason: 'set by --mtu / MOVIE_MTU' };
  if (turnConfigured) return { mtu: SAFE_MTU, reason: 'a TURN relay may carry the data' };
  let shared: number | undefined;
  let loopback = true;
  for (const m of mine) {
    for (const t of theirs) {
      if (!inPrefix(t.address, m) || !inPrefix(m.address, t)) continue;
      if (m.address === t.address && !isLoopback(m.address)) continue;
      shared = Math.min(shared ?? Infinity, m.mtu, t.mtu);
      loopback &&= isLoopback(m.address);
    }
  }
  if (shared !== undefined && loopback) return { mtu: Math.min(MAX_MTU, shared), reason: `both on this machine (loopback MTU ${shared})` };
  // One kernel and network namespace, over any of its addresses: the path runs through `lo`
  // (a side with a TURN server sends neither links nor a host value: the first rule).
  if (sameHost(hosts)) return { mtu: MAX_MTU, reason: 'both on this machine (same kernel and network namespace)' };
  if (shared === undefined) return { mtu: SAFE_MTU, reason: 'no shared link: the path MTU is unknown' };
  return { mtu: Math.min(MAX_MTU, shared), reason: `one shared link (MTU ${shared})` };
}
