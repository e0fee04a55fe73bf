/**
 * Counting Redis traffic of a measured window, from both ends:
 * - client side, by wrapping ioredis `Redis.prototype.sendCommand` (every command, including those queued in a
 *   pipeline or MULTI, EVALSHA counted once) and the socket's own flushes (`_write`, or `_writev` for what a
 *   cork or a busy socket gathered) on sockets to the bench server: one per lone request or per batch of
 *   requests that leave together, i.e. the writes that reach the kernel;
 * - server side, from `INFO stats` (`total_commands_processed`, which also counts commands run inside Lua,
 *   and `total_reads_processed`), `INFO cpu` (the server's CPU time) and `INFO commandstats` deltas.
 * BullMQ and braid both talk to Redis through the same ioredis module, so one wrap sees both.
 */
import { createHash } from 'node:crypto';
import { Socket } from 'node:net';
import { Redis } from 'ioredis';
import type { RedisCounts } from './spec.js';

interface Tally {
  commands: number;
  pipelined: number;
  writes: number;
}

const tally: Tally = { commands: 0, pipelined: 0, writes: 0 };
/** Commands sent, by name (a script by its ioredis command name when defined with defineCommand). */
const byName = new Map<string, number>();
const ignoredClients = new WeakSet<object>();
const ignoredSockets = new WeakSet<object>();
let installed = false;
let serverPort = -1;

/** Wraps ioredis and net once, for connections to `port`. Call before any client connects. */
export function installCounters(port: number): void {
  serverPort = port;
  if (installed) return;
  installed = true;
  const proto = Redis.prototype as unknown as { sendCommand: (this: unknown, command: unknown, stream?: { isPipeline?: boolean }) => unknown };
  const send = proto.sendCommand;
  proto.sendCommand = function sendCommand(this: unknown, command: unknown, stream?: { isPipeline?: boolean }) {
    if (!ignoredClients.has(this as object)) {
      tally.commands += 1;
      if (stream?.isPipeline === true) tally.pipelined += 1;
      const name = nameOf(command);
      byName.set(name, (byName.get(name) ?? 0) + 1);
    }
    return send.call(this, command, stream);
  };
  const proto2 = Redis.prototype as unknown as { defineCommand: (this: unknown, name: string, definition: { lua: string }) => unknown };
  const define = proto2.defineCommand;
  proto2.defineCommand = function defineCommand(this: unknown, name: string, definition: { lua: string }) {
    scriptNames.set(createHash('sha1').update(definition.lua).digest('hex'), name);
    return define.call(this, name, definition);
  };
  // Counted where the socket hands bytes to the kernel: `write()` calls made while a socket is corked (braid's
  // one-write batches) or busy leave together as one `_writev`.
  const proto3 = Socket.prototype as unknown as Record<'_write' | '_writev', (...args: unknown[]) => unknown>;
  for (const name of ['_write', '_writev'] as const) {
    const flush = proto3[name];
    proto3[name] = function counted(this: Socket, ...args: unknown[]): unknown {
      if (this.remotePort === serverPort && !ignoredSockets.has(this)) tally.writes += 1;
      return flush.apply(this, args);
    };
  }
}

/** Script sha1 -> the name it was defined under (ioredis `defineCommand`). */
const scriptNames = new Map<string, string>();

/** A script call is named after the script (`script:braid_v1_claim`), anything else by its command name. */
function nameOf(command: unknown): string {
  const c = command as { name?: string; args?: unknown[] };
  const name = c.name ?? '?';
  if (name !== 'evalsha' && name !== 'eval') return name;
  const first = c.args?.[0];
  const script = typeof first === 'string' ? scriptNames.get(first) : undefined;
  return script ? `script:${script}` : name;
}

interface ServerSnapshot {
  commands: number;
  reads: number;
  /** used_cpu_user + used_cpu_sys of the server process, ms. */
  cpuMs: number;
  stats: Map<string, number>;
}

/** Parses `INFO stats cpu commandstats`. */
function parseInfo(text: string): ServerSnapshot {
  const stats = new Map<string, number>();
  let commands = 0;
  let reads = 0;
  let cpuMs = 0;
  for (const line of text.split('\r\n')) {
    if (line.startsWith('total_commands_processed:')) commands = Number(line.slice(25));
    else if (line.startsWith('total_reads_processed:')) reads = Number(line.slice(22));
    else if (line.startsWith('used_cpu_user:') || line.startsWith('used_cpu_sys:')) cpuMs += Number(line.slice(line.indexOf(':') + 1)) * 1000;
    else if (line.startsWith('cmdstat_')) {
      const name = line.slice(8, line.indexOf(':'));
      const calls = /calls=(\d+)/.exec(line);
      if (calls) stats.set(name, Number(calls[1]));
    }
  }
  return { commands, reads, cpuMs, stats };
}

/** A measured window: `begin()` before the workload, `end()` after it settled. */
export class RedisWindow {
  private readonly client: Redis;
  private before: ServerSnapshot | undefined;
  private tallyBefore: Tally = { ...tally };
  private namesBefore = new Map<string, number>();

  constructor(url: string) {
    this.client = new Redis(url, { lazyConnect: true });
    ignoredClients.add(this.client);
  }

  /** Snapshots both ends. */
  async begin(): Promise<void> {
    await this.client.connect();
    const stream = (this.client as unknown as { stream?: object }).stream;
    if (stream) ignoredSockets.add(stream);
    this.before = parseInfo(await this.info());
    this.tallyBefore = { ...tally };
    this.namesBefore = new Map(byName);
  }

  /** Deltas since `begin()`, without this window's own INFO call. */
  async end(): Promise<RedisCounts> {
    const client = { ...tally };
    const after = parseInfo(await this.info());
    const before = this.before ?? { commands: 0, reads: 0, cpuMs: 0, stats: new Map() };
    const commandstats: Record<string, number> = {};
    for (const [name, calls] of after.stats) {
      const delta = calls - (before.stats.get(name) ?? 0) - (name === 'info' ? 1 : 0);
      if (delta > 0) commandstats[name] = delta;
    }
    const sent: Record<string, number> = {};
    for (const [name, n] of byName) {
      const delta = n - (this.namesBefore.get(name) ?? 0);
      if (delta > 0) sent[name] = delta;
    }
    await this.client.quit().catch(() => undefined);
    return {
      sent,
      clientCommands: client.commands - this.tallyBefore.commands,
      pipelinedCommands: client.pipelined - this.tallyBefore.pipelined,
      clientWrites: client.writes - this.tallyBefore.writes,
      serverCommands: after.commands - before.commands - 1,
      serverReads: after.reads - before.reads - 1,
      serverCpuMs: after.cpuMs - before.cpuMs,
      commandstats,
    };
  }

  private async info(): Promise<string> {
    return (await this.client.call('INFO', 'stats', 'cpu', 'commandstats')) as string;
  }
}
