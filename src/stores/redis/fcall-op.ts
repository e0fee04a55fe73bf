/**
 * The store's commands as values the tick batcher (src/core/tick-batcher.ts) can send alone or queue on a
 * pipeline. The store's client runs without ioredis auto-pipelining (connection.ts): its calls leave at the end
 * of their tick instead.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { BatchedCommand } from '../../core/tick-batcher.js';
import { respWire, sendPrebuilt, type CommandSink, type WireArg } from '../../core/resp-command.js';

/** One command, written on the client (which returns its reply) or queued on a pipeline of it. */
export type Op = (on: ChainableCommander) => unknown;

/**
 * `FCALL fn numkeys ...keys ...args` as an {@link Op}. Its wire bytes are written once, by
 * core/resp-command.ts (not by ioredis on each send: a copy of every argument and five string pieces each),
 * and a re-send (retryAborted) reuses them. Keys and arguments stay arrays: spreading a 100,000-node create
 * would overflow the stack.
 */
export function fcallOp(fn: string, keys: readonly string[], args: ReadonlyArray<string | number>): Op {
  return prebuiltOp('fcall', ['FCALL', fn, keys.length], keys, args);
}

/**
 * Any command as an {@link Op} whose RESP bytes (`head` then `tails`, core/resp-command.ts respWire) are
 * written once, on first send, and reused by a re-send. The arguments are dropped once written: a caller that
 * keeps the op until the reply (to send it again) keeps the bytes, outside the JavaScript heap, not thousands
 * of strings that young-generation GCs would copy meanwhile.
 */
export function prebuiltOp(name: string, head: ReadonlyArray<WireArg>, ...tails: ReadonlyArray<ReadonlyArray<WireArg>>): Op {
  let wire: Buffer | undefined;
  let parts: [ReadonlyArray<WireArg>, ReadonlyArray<ReadonlyArray<WireArg>>] | undefined = [head, tails];
  return (on) => {
    if (wire === undefined) {
      wire = respWire(parts![0], ...parts![1]);
      parts = undefined;
    }
    return sendPrebuilt(on as unknown as CommandSink, name, wire);
  };
}

/** An {@link Op} of `client` as a command for the tick batcher. */
export function batched<T>(client: Redis, op: Op): BatchedCommand<T> {
  return { alone: () => op(client as unknown as ChainableCommander) as Promise<T> };
}
