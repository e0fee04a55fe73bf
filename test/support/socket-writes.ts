/**
 * Counts socket writes to a server port, where Node hands bytes to the kernel: `_write`, or one `_writev` for
 * what a cork (or a busy socket) gathered. One write is one request on the wire (a round trip when it awaits
 * a reply): what the bench's "socket writes" figure counts (bench/redis-counts.ts).
 */
import { Socket } from 'node:net';

/** Writes counted since {@link countWrites}, until `stop()`. */
export interface WriteCount {
  /** Writes per socket, in the order the sockets first wrote. */
  readonly perSocket: Map<Socket, number>;
  /** All writes counted. */
  total(): number;
  /** Puts the socket methods back; counting ends. */
  stop(): void;
}

type Flush = (...args: unknown[]) => unknown;

/** Counts the writes of every socket to `port` from now until `stop()`, leaving out the `ignored` ones. */
export function countWrites(port: number, ignored: ReadonlyArray<Socket | undefined> = []): WriteCount {
  const perSocket = new Map<Socket, number>();
  const proto = Socket.prototype as unknown as Record<'_write' | '_writev', Flush>;
  const originals = { _write: proto._write, _writev: proto._writev };
  for (const name of ['_write', '_writev'] as const) {
    proto[name] = function counted(this: Socket, ...args: unknown[]): unknown {
      if (this.remotePort === port && !ignored.includes(this)) perSocket.set(this, (perSocket.get(this) ?? 0) + 1);
      return originals[name].apply(this, args);
    };
  }
  return {
    perSocket,
    total: () => [...perSocket.values()].reduce((sum, n) => sum + n, 0),
    stop: () => {
      proto._write = originals._write;
      proto._writev = originals._writev;
    },
  };
}
