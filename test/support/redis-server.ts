/**
 * A private `redis-server` for one test file: a free loopback port (probed, never assumed), its own temp dir,
 * AOF on by default (`appendfsync everysec`, RELIABILITY D4) and `DEBUG` enabled. `restart()` is the fault of
 * RELIABILITY §4: `kill -9`, start again on the same dir and port, poll `PING` until `PONG` (`LOADING` first).
 *
 * @example
 * const server = await RedisServer.start();
 * const redis = new Redis(server.url);
 * await server.restart();           // kill -9, restart on the same AOF
 * await server.stop();              // kill, remove the temp dir
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createConnection, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** How the server is started. */
export interface RedisServerOptions {
  /** AOF persistence (default true). */
  appendonly?: boolean;
  /** AOF fsync policy (default `everysec`). */
  appendfsync?: 'always' | 'everysec' | 'no';
  /** `enable-debug-command yes` (default true): `DEBUG SLEEP` and friends. */
  debug?: boolean;
  /** More `--name value` arguments. */
  extraArgs?: string[];
  /** Binary to run (default `BRAID_REDIS_SERVER` or `redis-server` on the PATH). */
  binary?: string;
}

const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Finds a free TCP port on 127.0.0.1 by listening on port 0. */
export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.unref();
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => {
      const address = server.address();
      server.close(() => (typeof address === 'object' && address !== null ? resolve(address.port) : reject(new Error('no port'))));
    });
  });
}

/** Sends one inline command over a raw socket and returns the first reply line (e.g. `+PONG`, `-LOADING ...`). */
export async function rawCommand(port: number, command: string, timeoutMs = 1_000): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let reply = '';
    const fail = (error: Error): void => {
      socket.destroy();
      reject(error);
    };
    socket.setTimeout(timeoutMs, () => fail(new Error(`no reply to ${command} within ${timeoutMs} ms`)));
    socket.once('error', fail);
    socket.once('connect', () => socket.write(`${command}\r\n`));
    socket.on('data', (chunk) => {
      reply += chunk.toString('utf8');
      const end = reply.indexOf('\r\n');
      if (end < 0) return;
      socket.destroy();
      resolve(reply.slice(0, end));
    });
  });
}

/** A running private redis-server. */
export class RedisServer {
  private child: ChildProcess | undefined;
  private readonly crashListeners = new Set<(why: string) => void>();

  private constructor(
    /** Loopback port it listens on. */
    readonly port: number,
    /** Its working dir (AOF, RDB, log). */
    readonly dir: string,
    private readonly options: RedisServerOptions,
  ) {}

  /** Starts a server on a free port in a fresh temp dir and waits until it answers `PONG`. */
  static async start(options: RedisServerOptions = {}): Promise<RedisServer> {
    let lastError: unknown;
    for (let attempt = 0; attempt < 5; attempt += 1) {
      const dir = mkdtempSync(join(tmpdir(), 'braid-redis-'));
      const server = new RedisServer(await freePort(), dir, options);
      try {
        await server.launch();
        return server;
      } catch (error) {
        lastError = error;
        await server.stop();
      }
    }
    throw new Error('could not start redis-server', { cause: lastError });
  }

  /** `redis://127.0.0.1:<port>`. */
  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  /** Pid of the running process, if any. */
  get pid(): number | undefined {
    return this.child?.pid;
  }

  /** `kill -9`, then start again on the same port and dir (emptied first with `wipe`), until `PONG`. */
  async restart(options: { wipe?: boolean } = {}): Promise<void> {
    await this.kill();
    if (options.wipe === true) {
      rmSync(this.dir, { recursive: true, force: true });
      mkdirSync(this.dir, { recursive: true });
    }
    await this.launch();
  }

  /**
   * Calls `listener` when the server exits without `kill()`/`stop()`/`restart()` asking it to (a crash), with the
   * exit status and the tail of its log; returns the unsubscribe. A test races its work against this instead of
   * hanging on clients that retry forever (`maxRetriesPerRequest: null`).
   */
  onCrash(listener: (why: string) => void): () => void {
    this.crashListeners.add(listener);
    return () => this.crashListeners.delete(listener);
  }

  /** `kill -9` without restarting (a crash); `restart()` or `stop()` afterwards. */
  async kill(): Promise<void> {
    const child = this.child;
    this.child = undefined;
    if (child === undefined || child.exitCode !== null || child.signalCode !== null) return;
    const exited = new Promise((resolve) => child.once('exit', resolve));
    child.kill('SIGKILL');
    await exited;
    live.delete(child);
  }

  /** Kills the server and removes its dir. */
  async stop(): Promise<void> {
    await this.kill();
    rmSync(this.dir, { recursive: true, force: true });
  }

  private args(): string[] {
    const o = this.options;
    return [
      '--port', String(this.port), '--bind', '127.0.0.1', '--dir', this.dir, '--daemonize', 'no',
      '--save', '', '--appendonly', o.appendonly === false ? 'no' : 'yes', '--appendfsync', o.appendfsync ?? 'everysec',
      '--enable-debug-command', o.debug === false ? 'no' : 'yes', '--logfile', join(this.dir, 'redis.log'),
      ...(o.extraArgs ?? []),
    ];
  }

  private async launch(): Promise<void> {
    const binary = this.options.binary ?? process.env.BRAID_REDIS_SERVER ?? 'redis-server';
    const child = spawn(binary, this.args(), { stdio: 'ignore' });
    this.child = child;
    live.add(child);
    let exit: string | undefined;
    child.once('exit', (code, signal) => {
      exit = `exited with ${signal ?? code}`;
      live.delete(child);
      // kill() forgets the child before signalling it: a child still current here exited by itself.
      if (this.child === child) {
        const why = `redis-server on port ${this.port} ${exit}: ${this.logTail()}`;
        for (const listener of this.crashListeners) listener(why);
      }
    });
    child.once('error', (error) => {
      exit = error.message;
    });
    const deadline = Date.now() + 15_000;
    for (;;) {
      if (exit !== undefined) throw new Error(`redis-server on port ${this.port} ${exit}: ${this.logTail()}`);
      const reply = await rawCommand(this.port, 'PING', 500).catch((error: Error) => error.message);
      if (reply === '+PONG') return;
      if (Date.now() > deadline) throw new Error(`redis-server on port ${this.port} not ready: ${reply}`);
      await new Promise((resolve) => setTimeout(resolve, 20));
    }
  }

  private logTail(): string {
    try {
      return readFileSync(join(this.dir, 'redis.log'), 'utf8').split('\n').slice(-5).join(' | ');
    } catch {
      return '(no log)';
    }
  }
}
