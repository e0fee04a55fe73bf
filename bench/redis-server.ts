/**
 * The bench's own redis-server: a free loopback port, a temp dir, no persistence (`--save '' --appendonly no`,
 * so neither library pays for the disk), stopped with the bench. Self-contained on purpose: the bench must not
 * break when test helpers change.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { Redis } from 'ioredis';

async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** A running private redis-server. */
export class BenchRedis {
  private constructor(readonly port: number, private readonly dir: string, private readonly child: ChildProcess) {}

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Starts `BRAID_REDIS_SERVER` or `redis-server` from the PATH and waits until it answers PING. */
  static async start(): Promise<BenchRedis> {
    const port = await freePort();
    const dir = mkdtempSync(join(tmpdir(), 'braid-bench-'));
    const binary = process.env.BRAID_REDIS_SERVER ?? 'redis-server';
    const child = spawn(binary, ['--port', String(port), '--bind', '127.0.0.1', '--dir', dir, '--save', '', '--appendonly', 'no', '--daemonize', 'no'], { stdio: 'ignore' });
    let failure: string | undefined;
    child.once('error', (error) => (failure = error.message));
    child.once('exit', (code, signal) => (failure ??= `exited with ${signal ?? code}`));
    const server = new BenchRedis(port, dir, child);
    const probe = new Redis(port, '127.0.0.1', { lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null });
    probe.on('error', () => undefined);
    const deadline = Date.now() + 10_000;
    try {
      for (;;) {
        if (failure !== undefined) throw new Error(`${binary} ${failure}`);
        const pong = await probe.connect().then(() => probe.ping()).catch(() => undefined);
        if (pong === 'PONG') return server;
        if (Date.now() > deadline) throw new Error(`${binary} on port ${port} did not answer PING`);
        probe.disconnect();
        await sleep(25);
      }
    } catch (error) {
      await server.stop();
      throw error;
    } finally {
      probe.disconnect();
    }
  }

  /** Kills the server and removes its dir. */
  async stop(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once('exit', resolve));
      this.child.kill('SIGKILL');
      await exited;
    }
    rmSync(this.dir, { recursive: true, force: true });
  }
}
