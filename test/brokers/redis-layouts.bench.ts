/**
 * Measurement behind docs/redis-broker.md: which Redis layout carries publish + consume + ack fastest while
 * keeping every delivery in Redis until acked. Not a test (no `.test.ts`): run it by hand,
 *
 *   node --import tsx test/brokers/redis-layouts.bench.ts [messages] [rounds]
 *
 * against a private redis-server it starts. Each layout runs three phases: publish only, consume + ack of a
 * full queue, and both at once (end to end). Prefetch 512, 110-byte bodies, acks batched per event-loop turn
 * where the layout allows it.
 */
import { Redis } from 'ioredis';
import { RedisServer } from '../support/redis-server.js';

interface Layout {
  name: string;
  publish(redis: Redis, body: string): Promise<unknown>;
  /** Consumes `total` messages, acking each; resolves when all are acked. */
  consume(main: Redis, blocking: Redis, total: number): Promise<void>;
}

const PREFETCH = 512;
const BODY = JSON.stringify({ v: 1, workflowId: 'wf_0123456789abcdef0123', nodeId: 'n12', attempt: 1, task: 'images.resize' }).padEnd(110, ' ');
const PRIORITIES = 10;
const list = (p: number): string => `bench:q:{a}:p${p}`;

/** Batches calls made in one event-loop turn into one flush. */
function batcher<T>(flush: (items: T[]) => Promise<unknown>): (item: T) => void {
  let pending: T[] = [];
  return (item) => {
    pending.push(item);
    if (pending.length > 1) return;
    setImmediate(() => {
      const items = pending;
      pending = [];
      void flush(items);
    });
  };
}

const streams: Layout = {
  name: 'streams (XREADGROUP COUNT, XACK+XDEL batched)',
  publish: (redis, body) => redis.xadd('bench:s:{a}', '*', 'b', body),
  async consume(main, blocking, total) {
    await main.xgroup('CREATE', 'bench:s:{a}', 'g', '0', 'MKSTREAM').catch(() => undefined);
    let done = 0;
    let held = 0;
    const ack = batcher<string>(async (ids) => {
      await main.pipeline().xack('bench:s:{a}', 'g', ...ids).xdel('bench:s:{a}', ...ids).exec();
      held -= ids.length;
      done += ids.length;
    });
    while (done < total) {
      const room = PREFETCH - held;
      if (room <= 0) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const reply = (await blocking.xreadgroup('GROUP', 'g', 'c1', 'COUNT', room, 'BLOCK', 200, 'STREAMS', 'bench:s:{a}', '>')) as
        | Array<[string, Array<[string, string[]]>]>
        | null;
      for (const [, entries] of reply ?? []) {
        held += entries.length;
        for (const [id] of entries) ack(id);
      }
    }
  },
};

const TAKE_LUA = `
local now = redis.call('TIME')
local nowMs = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
local count = tonumber(ARGV[1])
local due = redis.call('ZRANGEBYSCORE', KEYS[12], '-inf', nowMs, 'LIMIT', 0, 100)
local expired = redis.call('ZRANGEBYSCORE', KEYS[11], '-inf', nowMs, 'LIMIT', 0, 100)
local out = {}
for p = 10, 1, -1 do
  if #out >= count then break end
  local got = redis.call('LPOP', KEYS[p], count - #out)
  if got then for _, e in ipairs(got) do out[#out + 1] = e end end
end
if #out > 0 then
  local args = {}
  for i, e in ipairs(out) do args[2 * i - 1] = nowMs + 30000; args[2 * i] = e end
  redis.call('ZADD', KEYS[11], unpack(args))
end
return out`;

const listsLease: Layout = {
  name: 'lists per priority + Lua take into a lease zset, ZREM batched',
  publish: (redis, body) =>
    (redis as Redis & { benchPush(k1: string, k2: string, b: string): Promise<number> }).benchPush(list(0), 'bench:q:{a}:marker', body),
  async consume(main, _blocking, total) {
    const keys = [...Array.from({ length: PRIORITIES }, (_, p) => list(p)), 'bench:q:{a}:inflight', 'bench:q:{a}:delayed'];
    const take = main as Redis & { benchTake(...args: Array<string | number>): Promise<string[]> };
    let done = 0;
    let held = 0;
    const ack = batcher<string>(async (entries) => {
      await main.zrem('bench:q:{a}:inflight', ...entries);
      held -= entries.length;
      done += entries.length;
    });
    while (done < total) {
      const room = PREFETCH - held;
      if (room <= 0) {
        await new Promise((resolve) => setImmediate(resolve));
        continue;
      }
      const got = await take.benchTake(...keys, room);
      held += got.length;
      for (const entry of got) ack(entry);
      if (got.length === 0) await new Promise((resolve) => setTimeout(resolve, 1));
    }
  },
};

const listsLeasePlain: Layout = {
  ...listsLease,
  name: 'same, published with a plain RPUSH (marker ZADD only when the list was empty)',
  publish: async (redis, body) => {
    const length = await redis.rpush(list(0), body);
    if (length === 1) await redis.zadd('bench:q:{a}:marker', 0, 'm');
  },
};

const listsMove: Layout = {
  name: 'one list + LMOVE per message into a processing list, LREM per ack',
  publish: (redis, body) => redis.rpush('bench:l:{a}', body),
  async consume(main, _blocking, total) {
    let done = 0;
    let held = 0;
    let inFlight = 0;
    await new Promise<void>((resolve) => {
      const pump = (): void => {
        while (held + inFlight < PREFETCH && done + held + inFlight < total) {
          inFlight += 1;
          void main.lmove('bench:l:{a}', 'bench:l:{a}:proc', 'LEFT', 'RIGHT').then((entry) => {
            inFlight -= 1;
            if (entry === null) return void setTimeout(pump, 1);
            held += 1;
            void main.lrem('bench:l:{a}:proc', -1, entry).then(() => {
              held -= 1;
              done += 1;
              if (done === total) resolve();
              else pump();
            });
          });
        }
      };
      pump();
    });
  },
};

async function publishAll(layout: Layout, redis: Redis, total: number): Promise<void> {
  const window = 2_000;
  let sent = 0;
  const workers = Array.from({ length: window }, async () => {
    while (sent < total) {
      sent += 1;
      await layout.publish(redis, BODY);
    }
  });
  await Promise.all(workers);
}

async function measure(layout: Layout, url: string, total: number): Promise<number[]> {
  const pub = new Redis(url, { enableAutoPipelining: true });
  const main = new Redis(url, { enableAutoPipelining: true });
  const blocking = new Redis(url);
  for (const r of [pub, main]) {
    r.defineCommand('benchPush', { numberOfKeys: 2, lua: "local n = redis.call('RPUSH', KEYS[1], ARGV[1]) if n == 1 then redis.call('ZADD', KEYS[2], 0, 'm') end return n" });
    r.defineCommand('benchTake', { numberOfKeys: 12, lua: TAKE_LUA });
  }
  await main.flushall();
  await main.config('RESETSTAT');
  const rate = (start: bigint): number => Math.round(total / (Number(process.hrtime.bigint() - start) / 1e9));
  let start = process.hrtime.bigint();
  await publishAll(layout, pub, total);
  const publishRate = rate(start);
  start = process.hrtime.bigint();
  await layout.consume(main, blocking, total);
  const consumeRate = rate(start);
  await main.flushall();
  start = process.hrtime.bigint();
  await Promise.all([publishAll(layout, pub, total), layout.consume(main, blocking, total)]);
  const bothRate = rate(start);
  const stats = await main.info('commandstats');
  let usec = 0;
  for (const match of stats.matchAll(/^cmdstat_(\w+):calls=\d+,usec=(\d+)/gm)) {
    if (match[1] !== 'flushall' && match[1] !== 'config' && match[1] !== 'info') usec += Number(match[2]);
  }
  for (const r of [pub, main, blocking]) r.disconnect();
  return [publishRate, consumeRate, bothRate, usec / (2 * total)];
}

const total = Number(process.argv[2] ?? 100_000);
const rounds = Number(process.argv[3] ?? 3);
const server = await RedisServer.start({ appendonly: true });
try {
  process.stdout.write(`messages ${total}, prefetch ${PREFETCH}, body ${BODY.length} B, AOF everysec, best of ${rounds}\n`);
  for (const layout of [streams, listsLease, listsLeasePlain, listsMove]) {
    const best = [0, 0, 0, Number.POSITIVE_INFINITY];
    for (let round = 0; round < rounds; round += 1) {
      const figures = await measure(layout, server.url, total);
      figures.forEach((value, i) => (best[i] = i === 3 ? Math.min(best[i] as number, value) : Math.max(best[i] as number, value)));
    }
    process.stdout.write(`${layout.name}\n  publish ${best[0]}/s  consume+ack ${best[1]}/s  end-to-end ${best[2]}/s  server ${(best[3] as number).toFixed(2)} µs/msg\n`);
  }
} finally {
  await server.stop();
}
