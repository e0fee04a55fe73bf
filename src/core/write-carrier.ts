/**
 * Lets commands for one Redis server ride in a write that another connection to that server is about to make.
 *
 * The Redis broker's consumer, idle after handing out what it took, writes its next blocking take (BZPOPMIN)
 * anyway; the Redis store claims each node it handed out, on its own connection, in the same turn of the event
 * loop. With both on one server, the claims ride in front of the block: Redis answers them first (a client's
 * replies come back in order, and the block only waits after them), and the node costs one socket write less.
 *
 * The protocol, all within one turn of the event loop:
 * 1. the consumer {@link WriteCarrier.expect}s a write on its link before it hands deliveries out;
 * 2. the store, sending its claims at the end of the turn (`process.nextTick`), gives them to
 *    {@link WriteCarrier.ride} instead of writing them itself;
 * 3. the consumer, on a later `process.nextTick`, writes its block with the riders in front
 *    ({@link WriteCarrier.board}), or lets them go alone ({@link WriteCarrier.release}) when it does not block
 *    after all. A ride left open past the turn is released by `setImmediate`, so no rider ever waits on a write
 *    that is not coming.
 */
import type { Redis } from 'ioredis';

/** A connection a rider may send on, and the guard that fails its replies when the connection is dropped. */
export interface RideLink {
  readonly redis: Redis;
  /** `work`, or a rejection as soon as the link's owner drops the connection. */
  unlessDropped<T>(work: Promise<T>): Promise<T>;
}

/**
 * Sends a rider's commands: on `link` when it rides (inside the carrier's corked write), or on the rider's own
 * connection when `link` is undefined (no write came).
 */
export type Rider = (link: RideLink | undefined) => void;

/** The ride of one turn: who expects to write, and who rides along. */
export class WriteCarrier {
  private link: RideLink | undefined;
  private riders: Rider[] = [];
  private guard: NodeJS.Immediate | undefined;
  private rider = false;

  /** True while a write is expected this turn (riders may join it). */
  get open(): boolean {
    return this.link !== undefined;
  }

  /** True once a rider's side (a store on the same server) has joined: only then is a write worth expecting. */
  get joined(): boolean {
    return this.rider;
  }

  /** A rider's side says it will ride (the kernel wires a Redis store to a Redis broker on one server). */
  join(): void {
    this.rider = true;
  }

  /** A write on `link` will leave later in this turn: riders may join it until {@link board} or {@link release}. */
  expect(link: RideLink): void {
    if (this.link !== undefined && this.link !== link) this.release();
    this.link = link;
    this.guard ??= setImmediate(() => {
      // Past the turn: the write did not come (the consumer stopped, or found no room).
      this.guard = undefined;
      this.release();
    });
  }

  /** Joins the expected write; false when none is expected (the caller sends alone). */
  ride(rider: Rider): boolean {
    if (this.link === undefined) return false;
    this.riders.push(rider);
    return true;
  }

  /**
   * Sends every rider on `link`, in the order they joined, and closes the ride. Call it inside the corked write,
   * before the commands of the write itself. Riders of a ride expected on another link go alone.
   */
  board(link: RideLink): void {
    const riders = this.close();
    for (const rider of riders.list) rider(riders.link === link ? link : undefined);
  }

  /**
   * Closes the ride without a write: every rider sends on its own connection. With `link`, only a ride expected
   * on that link (another consumer's ride stays open).
   */
  release(link?: RideLink): void {
    if (this.link === undefined || (link !== undefined && link !== this.link)) return;
    for (const rider of this.close().list) rider(undefined);
  }

  private close(): { link: RideLink | undefined; list: Rider[] } {
    const closed = { link: this.link, list: this.riders };
    this.link = undefined;
    this.riders = [];
    if (this.guard) clearImmediate(this.guard);
    this.guard = undefined;
    return closed;
  }
}
