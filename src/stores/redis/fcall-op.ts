/**
 * The store's commands as values the tick batcher (src/core/tick-batcher.ts) can send alone or queue on a
 * pipeline. The store's client runs without ioredis auto-pipelining (connection.ts): its calls leave at the end
 * of their tick instead.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import type { BatchedCommand } from '../../core/tick-batcher.js';

/** One command, written on the client (which returns its reply) or queued on a pipeline of it. */
export type Op = (on: ChainableCommander) => unknown;

/**
 * ioredis `fcall` with keys and arguments as arrays: ioredis flattens them one level when it builds the command
 * (Command: `args.flat()`), and spreading them instead would overflow the stack for a 100,000-node create.
 */
type Fcall = (fn: string, numkeys: number, keys: readonly string[], args: ReadonlyArray<string | number>) => Promise<unknown>;

/** `FCALL fn numkeys ...keys ...args` as an {@link Op}. */
export function fcallOp(fn: string, keys: readonly string[], args: ReadonlyArray<string | number>): Op {
  return (on) => (on.fcall as unknown as Fcall).call(on, fn, keys.length, keys, args);
}

/** An {@link Op} of `client` as a command for the tick batcher. */
export function batched<T>(client: Redis, op: Op): BatchedCommand<T> {
  return { alone: () => op(client as unknown as ChainableCommander) as Promise<T>, queue: (pipeline) => void op(pipeline) };
}
