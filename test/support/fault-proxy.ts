/**
 * A TCP fault proxy on node:net (RELIABILITY §4): one per server and per role, so store and broker fail
 * separately. It never drops bytes mid-stream (no real network desynchronises a request/reply pipeline
 * that way): it passes, resets, pauses or delays whole connections.
 *
 * - `cutAll()` resets every live pair (a real RST via `resetAndDestroy`).
 * - `partition()` pauses both sides of every pair so bytes wait, and accepts new connections without reading
 *   them; `heal()` resumes. If the server side closes during a partition (the server restarted), the client
 *   side stays open — half-open — and is reset only when the client writes after the heal.
 * - `strand()` leaves every live pair half-open for good: the server's end is closed (the server sees the client
 *   go), the client's stays open and takes whatever is written to it, and nothing ever comes back: a peer that
 *   died unseen. New connections pass as usual.
 * - `rejecting(true)` accepts and closes new connections at once.
 * - `latency(ms)` delays every chunk in both directions (order kept).
 */
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';

interface Pair {
  client: Socket;
  server: Socket | undefined;
  serverClosed: boolean;
  /** Half-open for good (strand()): client bytes are swallowed, nothing is forwarded either way. */
  stranded?: boolean;
}

/**
 * Resets a live socket (a real RST). A socket already shutting down gets a plain destroy: on Node 20,
 * `resetAndDestroy()` of an ending socket never closes its handle and keeps the process from exiting.
 */
function hardClose(socket: Socket): void {
  if (socket.destroyed) return;
  if (socket.readyState === 'open' && !socket.writableEnded) socket.resetAndDestroy();
  else socket.destroy();
}

/** A proxy in front of one TCP server. */
export class FaultProxy {
  private readonly pairs = new Set<Pair>();
  private partitioned = false;
  private reject = false;
  private delayMs = 0;
  /** Connections accepted while partitioned, waiting for the heal. */
  private readonly waiting: Pair[] = [];

  private constructor(private readonly server: Server, private readonly target: { host: string; port: number }) {}

  /** Starts a proxy on a free loopback port in front of `target`. */
  static async start(target: { host?: string; port: number }): Promise<FaultProxy> {
    const server = createServer();
    const proxy = new FaultProxy(server, { host: target.host ?? '127.0.0.1', port: target.port });
    server.on('connection', (socket) => proxy.accept(socket));
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return proxy;
  }

  /** The port clients connect to. */
  get port(): number {
    return (this.server.address() as AddressInfo).port;
  }

  /** A URL of the given scheme pointing at the proxy, e.g. `url('redis')`. */
  url(scheme: string, path = ''): string {
    return `${scheme}://127.0.0.1:${this.port}${path}`;
  }

  /** Live client connections. */
  get connections(): number {
    return this.pairs.size;
  }

  /** Resets every live connection. */
  cutAll(): void {
    for (const pair of [...this.pairs]) this.destroy(pair);
  }

  /** Pauses every connection; new ones wait unread. */
  partition(): void {
    this.partitioned = true;
    for (const pair of this.pairs) {
      pair.client.pause();
      pair.server?.pause();
    }
  }

  /** Ends a partition: paused connections resume, waiting ones connect. */
  heal(): void {
    this.partitioned = false;
    for (const pair of this.pairs) {
      pair.client.resume();
      pair.server?.resume();
    }
    for (const pair of this.waiting.splice(0)) this.connectUpstream(pair);
  }

  /** Leaves every live pair half-open for good (see the module comment). */
  strand(): void {
    for (const pair of this.pairs) {
      pair.stranded = true;
      pair.server?.destroy();
    }
  }

  /** While true, new connections are accepted and closed at once. */
  rejecting(on: boolean): void {
    this.reject = on;
  }

  /** Delays every chunk by `ms` in both directions. */
  latency(ms: number): void {
    this.delayMs = ms;
  }

  /** Closes the proxy and every connection. */
  async close(): Promise<void> {
    this.cutAll();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    if (this.reject) {
      client.resetAndDestroy();
      return;
    }
    const pair: Pair = { client, server: undefined, serverClosed: false };
    this.pairs.add(pair);
    client.on('error', () => this.destroy(pair));
    client.on('close', () => this.destroy(pair));
    if (this.partitioned) {
      client.pause();
      this.waiting.push(pair);
      return;
    }
    this.connectUpstream(pair);
  }

  private connectUpstream(pair: Pair): void {
    if (!this.pairs.has(pair)) return;
    const server = connect(this.target.port, this.target.host);
    pair.server = server;
    server.on('error', () => this.serverGone(pair));
    server.on('close', () => this.serverGone(pair));
    server.on('data', (chunk: Buffer) => this.forward(() => pair.client.write(chunk)));
    pair.client.on('data', (chunk: Buffer) => {
      if (pair.stranded) return;
      if (pair.serverClosed) {
        // Half-open: the client learns the connection is gone only when it writes after the heal.
        this.destroy(pair);
        return;
      }
      this.forward(() => server.write(chunk));
    });
    pair.client.resume();
  }

  private serverGone(pair: Pair): void {
    pair.serverClosed = true;
    if (!this.partitioned && !pair.stranded) this.destroy(pair);
  }

  private forward(write: () => void): void {
    if (this.delayMs > 0) setTimeout(write, this.delayMs);
    else write();
  }

  private destroy(pair: Pair): void {
    if (!this.pairs.delete(pair)) return;
    hardClose(pair.client);
    if (pair.server) hardClose(pair.server);
  }
}
