/**
 * Runs the store's scripts as Redis functions (Redis >= 7.0): the whole library (library.ts) is loaded once
 * with `FUNCTION LOAD` at `connect()` and each script is called with `FCALL <library>_<script>`.
 *
 * Why functions and not ioredis `defineCommand` (EVALSHA): a script runs its whole top level on every call,
 * and ours is the prelude + lib.lua + advance.lua (~19 KB) before its own few lines: the transition tables and
 * ~40 closures were rebuilt per call. Measured on Redis 7.0.15: a `return 1` script with 15 keys costs 14 µs
 * of server CPU per call, with that prefix 30 µs; a function library builds the prefix once, at load. Figures
 * per store call in docs/redis-data-model.md ("Measured").
 *
 * The library name is versioned and carries a hash of its source (`braid_store_v1_<8 hex>`), so two releases
 * or builds sharing a server load side by side and nobody's library is replaced. A server that lost its
 * functions (restart without persistence, `FUNCTION FLUSH`, failover to a replica that never had them) answers
 * `ERR Function not found`: the library is loaded again and that call retried once.
 */
import type { ChainableCommander, Redis } from 'ioredis';
import { ConfigError } from '../../core/errors.js';
import { scriptError, type Reply } from './codes.js';
import { retryAborted } from './connection.js';
import { TickBatcher } from '../../core/tick-batcher.js';
import { batched, fcallOp, type Op } from './fcall-op.js';
import type { RideLink } from '../../core/write-carrier.js';
import { buildLibrary, type Library, type ScriptName } from './library.js';

/** The library built from this process's sources (built once: the source does not change at run time). */
let built: Library | undefined;

/** The store's function library, built on first use. */
export function storeLibrary(): Library {
  built ??= buildLibrary();
  return built;
}

function message(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

/** The store's functions on one ioredis client. */
export class Scripts {
  private loading: Promise<void> | undefined;
  private readonly batcher: TickBatcher;

  constructor(
    private readonly client: Redis,
    /** The library this client calls (tests may pass another build). */
    readonly library: Library = storeLibrary(),
  ) {
    this.batcher = new TickBatcher(client);
  }

  /**
   * Loads the library unless the server has it already (same name, hence same source). Fails with
   * ConfigError when the server cannot load functions (Redis < 7.0, or an ACL without `FUNCTION LOAD`).
   */
  async load(): Promise<void> {
    try {
      await retryAborted(() => this.client.call('FUNCTION', 'LOAD', this.library.code));
    } catch (error) {
      if (/already exists/.test(message(error))) return;
      throw new ConfigError(`redis store: FUNCTION LOAD of ${this.library.name} failed (Redis >= 7.0 is required): ${message(error)}`, { cause: error });
    }
  }

  /**
   * Runs a script (FCALL, sent at the end of this tick with the tick's other calls: core/tick-batcher.ts), again
   * when a cut pipeline aborted it (scripts are idempotent), and once more after loading the library again when
   * the server has lost it. Illegal transitions become IllegalTransition.
   */
  run(name: ScriptName, keys: string[], args: Array<string | number>): Promise<Reply> {
    // One op for every try: its wire bytes are made once and the argument strings let go of then (fcall-op.ts).
    // Not an async function: a suspended async frame keeps every parameter alive until it returns, so `args`
    // would live until the reply (a 100,000-node create's strings through its whole round trip). The frame that
    // waits holds the op only.
    return this.runOp(fcallOp(this.library.functionName(name), keys, args));
  }

  private async runOp(op: Op): Promise<Reply> {
    const call = (): Promise<Reply> => this.batcher.send<Reply>(batched(this.client, op));
    try {
      return await retryAborted(async () => {
        try {
          return await call();
        } catch (error) {
          if (!/Function not found/.test(message(error))) throw error;
          await this.reload();
          return call();
        }
      });
    } catch (error) {
      throw scriptError(error);
    }
  }

  /**
   * Runs a script on another connection to this server, inside that connection's corked write (a ride,
   * core/write-carrier.ts). Whatever keeps it from answering there (the link dropped, the library lost) sends
   * the same bytes again as {@link Scripts.run} does, on this client: scripts are idempotent.
   */
  runOn(link: RideLink, name: ScriptName, keys: string[], args: Array<string | number>): Promise<Reply> {
    const op = fcallOp(this.library.functionName(name), keys, args);
    return this.rideOrRun(link, op(link.redis as unknown as ChainableCommander) as Promise<Reply>, op);
  }

  private async rideOrRun(link: RideLink, sent: Promise<Reply>, op: Op): Promise<Reply> {
    try {
      return await link.unlessDropped(sent);
    } catch {
      return this.runOp(op);
    }
  }

  /** Writes the calls and commands issued so far in this tick now (core/tick-batcher.ts flushNow). */
  sendNow(): void {
    this.batcher.flushNow();
  }

  /** Any other command, sent in this tick's batch (in order with the scripts), again when a cut aborted it. */
  command<T>(op: Op): Promise<T> {
    return retryAborted(() => this.batcher.send<T>(batched(this.client, op)));
  }

  /** One load for every call that found the library missing at the same time. */
  private reload(): Promise<void> {
    this.loading ??= this.load().finally(() => {
      this.loading = undefined;
    });
    return this.loading;
  }
}
