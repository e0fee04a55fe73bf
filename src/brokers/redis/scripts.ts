/**
 * The Redis broker's Lua scripts, loaded through ioredis `defineCommand` under versioned names so two releases
 * can share a server. Each header lists its KEYS and ARGV and what a second run with the same arguments does:
 * ioredis re-sends in-flight commands after a reconnect and a timed-out command may have run (RELIABILITY D1,
 * D2), so every script is safe to run twice. Times come from `TIME` (the server's clock, never a worker's: F7).
 * Entries are `<r><p><id>|<body>` (see entry.ts). The hot path's scripts (take, pushMany, delayMany) are sent as
 * `EVALSHA`s whose bytes are written once ({@link HotScript}); they stay defined with ioredis too, unused there.
 */
import { createHash } from 'node:crypto';
import type { Redis } from 'ioredis';
import { respWire, sendPrebuilt, type WireArg } from '../../core/resp-command.js';
import { inOneWrite } from '../../core/one-write.js';

const NOW = `local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)`;

/**
 * take — promote due delayed entries, reclaim lapsed leases, then hand out up to `count` entries.
 * KEYS[1..10] ready lists p0..p9, KEYS[11] inflight, KEYS[12] delayed, KEYS[13] marker.
 * ARGV[1] count, ARGV[2] lease ms, ARGV[3] most entries promoted / reclaimed per call.
 * Returns `{ wakeMs, entry... }`: `wakeMs` = ms until the next delayed entry or lease deadline is due
 * (0 = now, -1 = nothing pending). Taken entries go to inflight scored now + lease.
 * Sets the marker when work remains, so the next idle consumer wakes (wake chaining).
 * Run twice: the second run takes other entries, which nobody receives; they sit in inflight until their lease
 * lapses and then come back (redelivered). Nothing is lost, nothing is handed out twice at once.
 */
const TAKE = `${NOW}
local count = tonumber(ARGV[1])
local lease = tonumber(ARGV[2])
local limit = tonumber(ARGV[3])
local function listOf(e)
  local b = string.byte(e, 2)
  if b == nil or b < 48 or b > 57 then return KEYS[1] end
  return KEYS[b - 47]
end
local more = false
local due = redis.call('ZRANGEBYSCORE', KEYS[12], '-inf', now, 'LIMIT', 0, limit)
if #due > 0 then
  redis.call('ZREM', KEYS[12], unpack(due))
  for _, e in ipairs(due) do redis.call('RPUSH', listOf(e), e) end
  more = more or #due == limit
end
local lapsed = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', now, 'LIMIT', 0, limit)
if #lapsed > 0 then
  redis.call('ZREM', KEYS[11], unpack(lapsed))
  for i = #lapsed, 1, -1 do
    local e = lapsed[i]
    redis.call('LPUSH', listOf(e), '1' .. string.sub(e, 2))
  end
  more = more or #lapsed == limit
end
local out = { 0 }
for p = 10, 1, -1 do
  local want = count + 1 - #out
  if want <= 0 then break end
  local got = redis.call('LPOP', KEYS[p], want)
  if got then for _, e in ipairs(got) do out[#out + 1] = e end end
end
if #out > 1 then
  local args = {}
  local deadline = now + lease
  for i = 2, #out do
    args[#args + 1] = deadline
    args[#args + 1] = out[i]
  end
  redis.call('ZADD', KEYS[11], unpack(args))
end
if more or (#out > count and redis.call('EXISTS', unpack(KEYS, 1, 10)) > 0) then
  redis.call('ZADD', KEYS[13], 0, 'm')
end
local wake = -1
local d = redis.call('ZRANGE', KEYS[12], 0, 0, 'WITHSCORES')
if d[2] then wake = math.max(0, tonumber(d[2]) - now) end
local h = redis.call('ZRANGE', KEYS[11], 0, 0, 'WITHSCORES')
if h[2] then
  local w = math.max(0, tonumber(h[2]) - now)
  if wake < 0 or w < wake then wake = w end
end
if more then wake = 0 end
out[1] = wake
return out`;

/**
 * pushMany — publish a batch of entries of one queue (every publish of one tick to that queue, at most a thousand):
 * append each to the ready list of its priority, one `RPUSH` per list, and, when a list was empty before,
 * set the marker so an idle consumer wakes. One call per queue and tick, one round trip.
 * KEYS[1] marker, KEYS[2..k+1] the ready lists written (k >= 1).
 * ARGV[1..k] how many entries go to each of those lists, then the entries, list by list, each list's in publish
 * order (so entries of one list stay in order).
 * Returns how many entries were appended. Run twice: every entry is appended twice; the consumer that takes a
 * second copy finds its node already claimed and drops it (a duplicate publish is harmless, DESIGN inv 2).
 */
const PUSH = `local k = #KEYS - 1
local at = k + 1
local wake = false
for i = 1, k do
  local n = tonumber(ARGV[i])
  if redis.call('RPUSH', KEYS[i + 1], unpack(ARGV, at, at + n - 1)) == n then wake = true end
  at = at + n
end
if wake then redis.call('ZADD', KEYS[1], 0, 'm') end
return at - k - 1`;

/**
 * delayMany — store a batch of entries of one queue until each is due (every delayed publish of one tick to that
 * queue, at most a thousand), one `ZADD`.
 * KEYS[1] delayed, KEYS[2] marker. ARGV pairs: delay ms, entry.
 * Sets the marker when one of them is (tied for) the earliest, so a sleeping consumer wakes and re-plans its
 * sleep. Returns how many entries were stored.
 * Run twice: the same members are re-scored (a few ms later at most); never a duplicate.
 */
const DELAY = `${NOW}
local args = {}
local earliest
for i = 1, #ARGV - 1, 2 do
  local due = now + tonumber(ARGV[i])
  args[i] = due
  args[i + 1] = ARGV[i + 1]
  if earliest == nil or due < earliest then earliest = due end
end
redis.call('ZADD', KEYS[1], unpack(args))
local first = redis.call('ZRANGE', KEYS[1], 0, 0, 'WITHSCORES')
if tonumber(first[2]) >= earliest then redis.call('ZADD', KEYS[2], 0, 'm') end
return #args / 2`;

/**
 * renew — extend the leases of entries a live consumer still holds.
 * KEYS[1] inflight. ARGV[1] lease ms, ARGV[2..] entries.
 * Only entries still in flight with a live lease (score > 0) are extended: a renewal never resurrects an acked
 * entry nor undoes a give-back. Returns how many were extended. Run twice: same result, slightly later deadline.
 */
const RENEW = `${NOW}
local deadline = now + tonumber(ARGV[1])
local n = 0
for i = 2, #ARGV do
  local s = redis.call('ZSCORE', KEYS[1], ARGV[i])
  if s and tonumber(s) > 0 then
    redis.call('ZADD', KEYS[1], 'XX', deadline, ARGV[i])
    n = n + 1
  end
end
return n`;

/**
 * giveBack — let entries go without acking them (release, consumer stop).
 * KEYS[1] inflight, KEYS[2] marker. ARGV[1..] entries.
 * Scores them 0, so the next `take` anywhere returns them to the head of their list marked redelivered, and
 * sets the marker to wake an idle consumer. Until then the old holder may still ack them. Returns how many
 * were still in flight. Run twice: no further change.
 */
const GIVE_BACK = `local n = 0
for i = 1, #ARGV do
  if redis.call('ZSCORE', KEYS[1], ARGV[i]) then
    redis.call('ZADD', KEYS[1], 'XX', 0, ARGV[i])
    n = n + 1
  end
end
if n > 0 then redis.call('ZADD', KEYS[2], 0, 'm') end
return n`;

/**
 * Lua that keeps a dead letter: `{ queue = ARGV[2], reason = ARGV[3], body = <body>, at = now }`, with `detail`
 * ARGV[4] when ARGV[5] is `1`, pushed onto KEYS[key], which keeps the newest ARGV[6] (after {@link NOW}).
 */
function keepLetter(key: number, body: string): string {
  return `local letter = { queue = ARGV[2], reason = ARGV[3], body = ${body}, at = now }
if ARGV[5] == '1' then letter.detail = ARGV[4] end
redis.call('LPUSH', KEYS[${key}], cjson.encode(letter))
redis.call('LTRIM', KEYS[${key}], 0, tonumber(ARGV[6]) - 1)`;
}

/**
 * deadLetter — keep a copy of an in-flight entry as a dead letter, then remove it, atomically.
 * KEYS[1] inflight, KEYS[2] dead. ARGV[1] entry, ARGV[2] queue, ARGV[3] reason, ARGV[4] detail,
 * ARGV[5] `1` when a detail is given, ARGV[6] most dead letters kept for the queue.
 * Returns 1 when dead-lettered, 0 when the entry was no longer in flight (acked, reclaimed or purged).
 * Run twice: the second run finds it gone and returns 0; one copy only.
 */
const DEAD_LETTER = `${NOW}
if redis.call('ZREM', KEYS[1], ARGV[1]) == 0 then return 0 end
local e = ARGV[1]
local bar = string.find(e, '|', 3, true) or 2
${keepLetter(2, 'string.sub(e, bar + 1)')}
return 1`;

/**
 * deadCopy — keep a copy of a message that is not in flight as a dead letter (Broker.deadLetter: a node the store
 * failed for good while no delivery of it was held).
 * KEYS[1] dead. ARGV[1] body, ARGV[2] queue, ARGV[3] reason, ARGV[4] detail, ARGV[5] `1` when a detail is given,
 * ARGV[6] most dead letters kept for the queue. Returns 1. Run twice: two copies (a sweeper's retry may repeat it).
 */
const DEAD_COPY = `${NOW}
${keepLetter(1, 'ARGV[1]')}
return 1`;

/** Script names carry this version; bump it when a script changes meaning. */
const VERSION = 'V1';

/** The broker scripts as methods of a connection (defined by {@link defineBrokerScripts}). */
export interface BrokerScripts {
  /**
   * {@link TAKE}s of several queues in one socket write, after whatever `before` sends (the acks, so they
   * precede the takes on the wire).
   */
  takeMany(takes: readonly TakeArgs[], leaseMs: number, limit: number, before?: () => void): Array<Promise<TakeReply>>;
  /** Sends one {@link PUSH} or {@link DELAY} call; resolves with how many entries it stored. */
  publish(call: PublishCall): Promise<number>;
  renewEntries(inflight: string, leaseMs: number, entries: Buffer[]): Promise<number>;
  giveBackEntries(inflight: string, marker: string, entries: Buffer[]): Promise<number>;
  deadLetterEntry(inflight: string, dead: string, entry: Buffer, queue: string, reason: string, detail: string | undefined, max: number): Promise<number>;
  /** Keeps a copy of `body` as a dead letter of `queue` ({@link DEAD_COPY}). */
  deadLetterCopy(dead: string, body: Buffer, queue: string, reason: string, detail: string | undefined, max: number): Promise<number>;
}

type Call = (...args: Array<string | number | Buffer>) => Promise<unknown>;

/** ioredis name of a script (`braidBrokerTakeV1`, ...). */
function commandName(name: string): string {
  return `braidBroker${name[0]?.toUpperCase()}${name.slice(1)}${VERSION}`;
}

/**
 * One call of a publishing script: `pushMany` ({@link PUSH}) or `delayMany` ({@link DELAY}), with its arguments
 * as Redis takes them, in parts (flattened one level): the number of keys, the keys, then ARGV.
 */
export interface PublishCall {
  script: 'pushMany' | 'delayMany';
  args: ReadonlyArray<ReadonlyArray<WireArg>>;
}

/**
 * ioredis command names of the publishing scripts, for `autoPipeliningIgnoredCommands`: publishes leave at the
 * end of their tick (publish-batcher.ts), not at auto-pipelining's `setImmediate`. (They are sent as prebuilt
 * EVALSHAs now, which never auto-pipeline; the names stay ignored for any caller of the defined commands.)
 */
export const PUBLISH_COMMANDS = [commandName('pushMany'), commandName('delayMany')];

/** One take to send: a queue's keys (ready lists, inflight, delayed, marker) and how many entries to ask. */
export type TakeArgs = [keys: string[], count: number];

/** What a take answers: `[wakeMs, ...entries]`. */
export type TakeReply = Array<Buffer | number>;

/**
 * A script of the hot path (take, pushMany, delayMany), sent as an `EVALSHA` whose RESP bytes are written once
 * (core/resp-command.ts), not through ioredis' Script and Command machinery. The command is an ordinary ioredis
 * command otherwise: queued while offline, re-sent with the same bytes after a reconnect (scripts are safe to
 * run twice), its reply left as Buffers (entries are binary).
 */
interface HotScript {
  readonly lua: string;
  readonly sha: string;
  /** Seen by ioredis as the command's arguments (never written): names the script, e.g. in bench/redis-counts. */
  readonly options: { replyEncoding: null; args: [string] };
}

function hotScript(lua: string): HotScript {
  const sha = createHash('sha1').update(lua).digest('hex');
  return { lua, sha, options: { replyEncoding: null, args: [sha] } };
}

const HOT = { take: hotScript(TAKE), pushMany: hotScript(PUSH), delayMany: hotScript(DELAY) };

/** Per socket of a connection (or the connection while it has none), the shas it has sent `SCRIPT LOAD` for. */
const loadedOn = new WeakMap<object, Set<string>>();

/**
 * Sends `EVALSHA` with bytes `wire` on `client`. The first use of a script on a socket sends `SCRIPT LOAD` of it
 * just before (as ioredis sends its defined commands as EVAL then), so a fresh server never answers NOSCRIPT.
 * A server that lost it meanwhile (restarted, or `SCRIPT FLUSH`) answers NOSCRIPT: the script is loaded and
 * the same bytes sent once more, as ioredis does for its defined commands (it re-sends them as EVAL).
 */
function evalsha(client: Redis, script: HotScript, wire: Buffer): Promise<unknown> {
  const socket: object = client.stream ?? client;
  let loaded = loadedOn.get(socket);
  if (loaded === undefined) loadedOn.set(socket, (loaded = new Set()));
  if (!loaded.has(script.sha)) {
    loaded.add(script.sha);
    // A failed load shows as the EVALSHA's NOSCRIPT, handled below.
    client.script('LOAD', script.lua).catch(() => undefined);
  }
  return sendPrebuilt(client, 'evalsha', wire, script.options).catch((error: unknown) => {
    if (!(error instanceof Error) || !error.message.includes('NOSCRIPT')) throw error;
    return client.script('LOAD', script.lua).then(() => sendPrebuilt(client, 'evalsha', wire, script.options));
  });
}

/** Sends one {@link TAKE} on `client`. */
function sendTake(client: Redis, keys: readonly string[], count: number, leaseMs: number, limit: number): Promise<TakeReply> {
  return evalsha(client, HOT.take, respWire(['EVALSHA', HOT.take.sha, keys.length], keys, [count, leaseMs, limit])) as Promise<TakeReply>;
}

/** Sends one {@link PUSH} or {@link DELAY} call on `client`. */
function sendPublish(client: Redis, { script, args }: PublishCall): Promise<number> {
  const hot = HOT[script];
  return evalsha(client, hot, respWire(['EVALSHA', hot.sha], ...args)) as Promise<number>;
}

/**
 * `BZPOPMIN` on `markers` for `timeoutMs` with {@link TAKE}s sent behind it on `connection`, in one write:
 * Redis runs a blocked client's next commands the moment the block ends (a marker popped, or the timeout), so a
 * wake and its takes cost one round trip. Answers the block's error, if any, and each take's outcome.
 */
export async function blockThenTake(
  connection: Redis, markers: string[], timeoutMs: number, takes: TakeArgs[], leaseMs: number, limit: number,
): Promise<{ blockError: unknown; takes: Array<PromiseSettledResult<TakeReply>> }> {
  const seconds = Math.max(10, Math.ceil(timeoutMs)) / 1_000;
  const sent = inOneWrite(connection, () => {
    const block = sendPrebuilt(connection, 'bzpopmin', respWire(['BZPOPMIN'], markers, [seconds]), { replyEncoding: null, args: [...markers, seconds] });
    return [block, ...takes.map(([keys, count]) => sendTake(connection, keys, count, leaseMs, limit))];
  });
  const [pop, ...rest] = (await Promise.allSettled(sent)) as [PromiseSettledResult<unknown>, ...Array<PromiseSettledResult<TakeReply>>];
  return { blockError: pop.status === 'rejected' ? (pop.reason as unknown) : undefined, takes: rest };
}

/** Defines the scripts on `redis` (once per connection) and returns typed wrappers. */
export function defineBrokerScripts(redis: Redis): BrokerScripts {
  const scripts: Array<[string, number | undefined, string]> = [
    ['take', 13, TAKE],
    ['pushMany', undefined, PUSH],
    ['delayMany', undefined, DELAY],
    ['renew', 1, RENEW],
    ['giveBack', 2, GIVE_BACK],
    ['deadLetter', 2, DEAD_LETTER],
    ['deadCopy', 1, DEAD_COPY],
  ];
  const calls = new Map<string, Call>();
  for (const [name, numberOfKeys, lua] of scripts) {
    const command = commandName(name);
    if (!(command in redis)) redis.defineCommand(command, numberOfKeys === undefined ? { lua } : { numberOfKeys, lua });
    const target = redis as unknown as Record<string, Call>;
    const buffered = target[`${command}Buffer`] as Call;
    calls.set(name, (...args) => buffered.apply(redis, args));
  }
  const call = (name: string): Call => calls.get(name) as Call;
  return {
    takeMany: (takes, leaseMs, limit, before) =>
      inOneWrite(redis, () => {
        before?.();
        return takes.map(([keys, count]) => sendTake(redis, keys, count, leaseMs, limit));
      }),
    publish: (publish) => sendPublish(redis, publish),
    renewEntries: (inflight, leaseMs, entries) => call('renew')(inflight, leaseMs, ...entries) as Promise<number>,
    giveBackEntries: (inflight, marker, entries) => call('giveBack')(inflight, marker, ...entries) as Promise<number>,
    deadLetterEntry: (inflight, dead, entry, queue, reason, detail, max) =>
      call('deadLetter')(inflight, dead, entry, queue, reason, detail ?? '', detail === undefined ? '0' : '1', max) as Promise<number>,
    deadLetterCopy: (dead, body, queue, reason, detail, max) =>
      call('deadCopy')(dead, body, queue, reason, detail ?? '', detail === undefined ? '0' : '1', max) as Promise<number>,
  };
}
