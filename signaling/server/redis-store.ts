/**
 * RoomStore on Redis, for scale-out: every movie-signal node sees the same
 * rooms and the same rate-limit counters.
 *
 * Layout (all keys share the hash tag `{ms}` so a future Redis Cluster keeps
 * them in one slot and the Lua scripts stay legal):
 *   <prefix>{ms}:room:<id>     hash: ver, created, active, hsid, htok, hgone,
 *                              hasr, rsid, rtok, rgone, rleft, rpake, meet,
 *                              hleft (meeting rooms; absent: 0); PEXPIRE'd
 *                              as a safety net (the sweeper normally ends rooms)
 *   <prefix>{ms}:used:<id>     tombstone of a paired room that ended (PX): the
 *                              id stays burned, joins get `busy` (never for a
 *                              meeting room)
 *   <prefix>{ms}:deadlines     sorted set: room id -> next deadline (ms epoch)
 *                              (idle TTL / grace); its size is the room count
 *   <prefix>{ms}:rl:<key>:<w>  INCRBY counter per rate-limit window, PEXPIRE'd
 *   <prefix>{ms}:by:<address>  set of the room ids an address created (for the
 *                              open-rooms-per-address limit); ids whose room
 *                              is gone are pruned whenever it is checked
 *   <prefix>{ms}:sk:<address> sorted set: the open connections of an address
 *                              on all nodes ("<node>:<socket id>"), scored by
 *                              the end of their lease (Redis server time, ms);
 *                              entries past it are dropped when the set is
 *                              checked, and the key PEXPIREs one lease after
 *                              its last write (the per-address connection cap)
 *   <prefix>node:<id>          pub/sub channel each node subscribes to: a node
 *                              is alive while PUBSUB NUMSUB counts it (Redis
 *                              drops the subscription the moment a crashed
 *                              node's connection closes)
 *
 * Writes are Lua scripts (one round trip, atomic): insert-if-absent with the
 * max-rooms check, and compare-and-set on the `ver` field.
 */
import { createHash } from 'node:crypto';
import type { createClient } from 'redis';
import type { AddrQuota, CasResult, InsertResult, RoomState, RoomStore } from '../rooms.js';
import type { SharedSocketCounts } from './limits.js';

type Client = ReturnType<typeof createClient>;

// KEYS[4] (optional): the address's set of room ids; ARGV[5]: its limit (0: none), ARGV[6]: the room key prefix
const INSERT = `
if redis.call('EXISTS', KEYS[1]) == 1 or redis.call('EXISTS', KEYS[3]) == 1 then return 'exists' end
local max = tonumber(ARGV[1])
if max > 0 and redis.call('ZCARD', KEYS[2]) >= max then return 'full' end
if KEYS[4] then
  for _, id in ipairs(redis.call('SMEMBERS', KEYS[4])) do
    if redis.call('EXISTS', ARGV[6] .. id) == 0 then redis.call('SREM', KEYS[4], id) end
  end
  local amax = tonumber(ARGV[5])
  if amax > 0 and redis.call('SCARD', KEYS[4]) >= amax then return 'addr-full' end
  redis.call('SADD', KEYS[4], ARGV[4])
  redis.call('PEXPIRE', KEYS[4], ARGV[3])
end
redis.call('HSET', KEYS[1], unpack(ARGV, 7))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 'ok'
`;

const CAS = `
local v = redis.call('HGET', KEYS[1], 'ver')
if (not v) or v ~= ARGV[1] then return 'conflict' end
redis.call('DEL', KEYS[1])
if #ARGV < 6 then
  redis.call('ZREM', KEYS[2], ARGV[4])
  if tonumber(ARGV[5]) > 0 then redis.call('SET', KEYS[3], '1', 'PX', ARGV[5]) end
  return 'ok'
end
redis.call('HSET', KEYS[1], unpack(ARGV, 6))
redis.call('PEXPIRE', KEYS[1], ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[2], ARGV[4])
return 'ok'
`;

const DUE = `
local ids = redis.call('ZRANGEBYSCORE', KEYS[1], '-inf', ARGV[1], 'LIMIT', 0, tonumber(ARGV[2]))
local out = {}
for _, id in ipairs(ids) do
  if redis.call('EXISTS', ARGV[3] .. id) == 1 then
    table.insert(out, id)
  else
    redis.call('ZREM', KEYS[1], id)
  end
end
return out
`;

// Redis's own clock, so the nodes' clocks need not agree (Redis 5+ replicates a script's effects, so TIME may precede writes)
const NOW_MS = `
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
`;

// KEYS[1]: the address's set; ARGV: max, lease ms, member
const SOCKET_ADMIT = `${NOW_MS}
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', now)
local max = tonumber(ARGV[1])
if max > 0 and redis.call('ZCARD', KEYS[1]) >= max then return 0 end
redis.call('ZADD', KEYS[1], now + tonumber(ARGV[2]), ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[2])
return 1
`;

// KEYS[1]: the address's set; ARGV: lease ms, members...
const SOCKET_RENEW = `${NOW_MS}
local until = now + tonumber(ARGV[1])
for i = 2, #ARGV do redis.call('ZADD', KEYS[1], until, ARGV[i]) end
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
`;

const HIT = `
local n = redis.call('INCRBY', KEYS[1], ARGV[2])
if n == tonumber(ARGV[2]) then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return n
`;

/** Keep a room's hash this long past its deadline, in case no node is alive to sweep it. */
const SAFETY_MS = 15 * 60_000;

const sha1 = (s: string): string => createHash('sha1').update(s).digest('hex');

function toFields(s: RoomState): string[] {
  const n = (x: number | null): string => (x === null ? '' : String(x));
  return [
    'ver',
    String(s.ver),
    'created',
    String(s.createdAt),
    'active',
    String(s.activeAt),
    'hsid',
    s.host.sid ?? '',
    'htok',
    s.host.token,
    'hgone',
    n(s.host.goneAt),
    'hnode',
    s.host.node,
    'hasr',
    s.receiver ? '1' : '0',
    'rsid',
    s.receiver?.sid ?? '',
    'rtok',
    s.receiver?.token ?? '',
    'rgone',
    n(s.receiver?.goneAt ?? null),
    'rnode',
    s.receiver?.node ?? '',
    'rleft',
    s.receiverLeft ? '1' : '0',
    'rpake',
    s.receiverPake ? '1' : '0',
    'meet',
    s.meeting ? '1' : '0',
    'hleft',
    s.hostLeft ? '1' : '0',
  ];
}

function fromFields(id: string, h: Record<string, string>): RoomState | null {
  if (!h || !h.ver) return null;
  const num = (x: string | undefined): number | null => (x ? Number(x) : null);
  return {
    id,
    ver: Number(h.ver),
    createdAt: Number(h.created),
    activeAt: Number(h.active),
    host: { sid: h.hsid || null, token: h.htok ?? '', goneAt: num(h.hgone), node: h.hnode ?? '' },
    receiver: h.hasr === '1' ? { sid: h.rsid || null, token: h.rtok ?? '', goneAt: num(h.rgone), node: h.rnode ?? '' } : null,
    receiverLeft: h.rleft === '1',
    receiverPake: h.rpake === '1',
    meeting: h.meet === '1',
    hostLeft: h.hleft === '1',
  };
}

export class RedisRoomStore implements RoomStore, SharedSocketCounts {
  readonly kind = 'redis' as const;
  private readonly roomPrefix: string;
  private readonly usedPrefix: string;
  private readonly deadlinesKey: string;
  private readonly rlPrefix: string;
  private readonly byAddrPrefix: string;
  private readonly socketsPrefix: string;

  private readonly nodePrefix: string;
  private readonly alive = new Map<string, { alive: boolean; until: number }>();

  constructor(
    private readonly client: Client,
    private readonly ownNode: string,
    prefix = 'movie-signal:',
  ) {
    this.nodePrefix = `${prefix}node:`;
    this.roomPrefix = `${prefix}{ms}:room:`;
    this.usedPrefix = `${prefix}{ms}:used:`;
    this.deadlinesKey = `${prefix}{ms}:deadlines`;
    this.rlPrefix = `${prefix}{ms}:rl:`;
    this.byAddrPrefix = `${prefix}{ms}:by:`;
    this.socketsPrefix = `${prefix}{ms}:sk:`;
  }

  private async script(src: string, keys: string[], args: string[]): Promise<unknown> {
    const sha = sha1(src);
    try {
      return await this.client.sendCommand(['EVALSHA', sha, String(keys.length), ...keys, ...args]);
    } catch (e) {
      if (!String((e as Error)?.message ?? e).includes('NOSCRIPT')) throw e;
      return await this.client.sendCommand(['EVAL', src, String(keys.length), ...keys, ...args]);
    }
  }

  private px(deadline: number): string {
    return String(Math.max(0, deadline - Date.now()) + SAFETY_MS);
  }

  async insert(room: RoomState, maxRooms: number, deadline: number, quota?: AddrQuota): Promise<InsertResult> {
    const keys = [this.roomPrefix + room.id, this.deadlinesKey, this.usedPrefix + room.id, ...(quota ? [this.byAddrPrefix + quota.addr] : [])];
    const r = await this.script(INSERT, keys, [String(maxRooms), String(deadline), this.px(deadline), room.id, String(quota?.max ?? 0), this.roomPrefix, ...toFields(room)]);
    return r === 'ok' || r === 'full' || r === 'addr-full' ? r : 'exists';
  }

  async get(id: string): Promise<RoomState | null> {
    const h = (await this.client.hGetAll(this.roomPrefix + id)) as Record<string, string>;
    return fromFields(id, h);
  }

  async cas(id: string, expectedVer: number, next: RoomState | null, deadline: number, tombstoneMs = 0): Promise<CasResult> {
    const r = await this.script(
      CAS,
      [this.roomPrefix + id, this.deadlinesKey, this.usedPrefix + id],
      [String(expectedVer), String(deadline), this.px(deadline), id, String(Math.round(tombstoneMs)), ...(next ? toFields(next) : [])],
    );
    return r === 'ok' ? 'ok' : 'conflict';
  }

  async tombstoned(id: string): Promise<boolean> {
    return (await this.client.exists(this.usedPrefix + id)) === 1;
  }

  async due(now: number, limit: number): Promise<string[]> {
    const r = await this.script(DUE, [this.deadlinesKey], [String(now), String(limit), this.roomPrefix]);
    return Array.isArray(r) ? r.map(String) : [];
  }

  async count(): Promise<number> {
    return Number(await this.client.zCard(this.deadlinesKey));
  }

  async hit(key: string, windowMs: number, now: number, by = 1): Promise<number> {
    const w = Math.floor(now / windowMs);
    const r = await this.script(HIT, [`${this.rlPrefix}${key}:${w}`], [String(windowMs + 1000), String(Math.max(1, Math.floor(by)))]);
    return Number(r);
  }

  async admitSocket(addr: string, member: string, max: number, leaseMs: number): Promise<boolean> {
    return Number(await this.script(SOCKET_ADMIT, [this.socketsPrefix + addr], [String(max), String(Math.round(leaseMs)), member])) === 1;
  }

  async renewSockets(addr: string, members: string[], leaseMs: number): Promise<void> {
    // in slices: a script's arguments are unpacked on Lua's stack
    for (let i = 0; i < members.length; i += 1000) {
      await this.script(SOCKET_RENEW, [this.socketsPrefix + addr], [String(Math.round(leaseMs)), ...members.slice(i, i + 1000)]);
    }
  }

  async releaseSocket(addr: string, member: string): Promise<void> {
    await this.client.zRem(this.socketsPrefix + addr, member);
  }

  /** The channel this node subscribes to (on its pub/sub client) to advertise that it is alive. */
  nodeChannel(node = this.ownNode): string {
    return this.nodePrefix + node;
  }

  async nodeAlive(node: string, fresh = false): Promise<boolean> {
    if (node === this.ownNode) return true;
    if (!node) return false;
    const now = Date.now();
    const c = this.alive.get(node);
    if (c && c.until > now && (!fresh || !c.alive)) return c.alive;
    const r = await this.client.sendCommand<unknown[]>(['PUBSUB', 'NUMSUB', this.nodeChannel(node)]);
    const alive = Number(r?.[1] ?? 0) > 0;
    if (this.alive.size > 1000) this.alive.clear();
    this.alive.set(node, { alive, until: now + (alive ? 250 : 60_000) }); // node ids are per process: dead stays dead
    return alive;
  }

  healthy(): boolean {
    return this.client.isReady;
  }

  async close(): Promise<void> {
    // the client is owned (and closed) by `openRedis` in redis.ts
  }
}
