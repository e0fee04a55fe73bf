/**
 * A task definition: a name, a handler and options. `s()` and `si()` make typed signatures of it.
 */
import type { TaskOptions } from '../core/options.js';
import { Signature, type NoParent } from './values.js';
import type { Head, Tail } from './typing.js';

/** The context type a handler receives; the runtime defines it (kept generic here so the canvas stays pure). */
export type HandlerOf<Ctx, A extends unknown[], R> = (ctx: Ctx, ...args: A) => R | Promise<R>;

/** A registered task. `A` are its positional arguments, `R` its result. */
export interface Task<A extends unknown[] = unknown[], R = unknown> {
  /** The task's name: its identity across processes. */
  readonly name: string;
  /** Options given at definition (less specific than `.set()` on a signature). */
  readonly options: Readonly<TaskOptions>;
  /**
   * A signature with every argument: it takes no parent result, so it starts a chain or stands alone.
   * @example add.s(2, 3)
   */
  s(...args: A): Signature<R, NoParent>;
  /**
   * A partial signature: in a chain it receives its parent's result as its first argument.
   * @example chain(add.s(2, 3), add.s(10))
   */
  s(...args: Tail<A>): Signature<R, Head<A>>;
  /** An immutable signature: it ignores its parent's result. */
  si(...args: A): Signature<R, unknown>;
}

/** Makes the {@link Task} value for a name and options (the app keeps the handler). */
export function makeTask<A extends unknown[], R>(name: string, options: TaskOptions): Task<A, R> {
  return {
    name,
    options: Object.freeze({ ...options }),
    s: (...args: unknown[]) => new Signature(name, args, false),
    si: (...args: unknown[]) => new Signature(name, args, true),
  } as unknown as Task<A, R>;
}
