/**
 * A private RabbitMQ node for broker-level faults (RELIABILITY §4): its own node name, AMQP, distribution and
 * epmd ports (free ones, probed), mnesia and log dirs, config file and HOME (so its own Erlang cookie) in a temp
 * dir, so `close_all_connections`, `kill -9` and `purge_queue` touch nobody else. The shared server on
 * 127.0.0.1:5672 is never used here. Boots in 15-40 s on a loaded 2-core machine.
 *
 * @example
 * const node = await RabbitNode.start();       // throws RabbitNodeUnavailable when it cannot boot
 * const broker = new AmqpBroker({ url: node.url, prefix: 'x' });
 * await node.closeAllConnections('chaos');
 * await node.restart();                         // kill -9 of the VM, boot again on the same dir and ports
 * await node.stop();                            // kill -9, stop its epmd, remove the dir
 */
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { freePort } from './redis-server.js';

const run = promisify(execFile);

/** Where the unwrapped scripts live (Debian's /usr/sbin wrappers switch to the rabbitmq user and its HOME). */
const SBIN = process.env.BRAID_RABBITMQ_SBIN ?? '/usr/lib/rabbitmq/bin';

/** Why a private node cannot run here (`undefined` when the scripts are present). */
export function rabbitNodeMissing(): string | undefined {
  for (const name of ['rabbitmq-server', 'rabbitmqctl']) {
    if (!existsSync(join(SBIN, name))) return `no ${join(SBIN, name)} (set BRAID_RABBITMQ_SBIN to the directory of the unwrapped scripts)`;
  }
  return undefined;
}

const live = new Set<RabbitNode>();
process.once('exit', () => {
  for (const node of live) node.killNow();
});

/** A private RabbitMQ node. */
export class RabbitNode {
  private child: ChildProcess | undefined;
  /** Times the node was booted (1 after start). */
  boots = 0;

  private constructor(
    readonly dir: string,
    readonly name: string,
    readonly port: number,
    private readonly distPort: number,
    private readonly epmdPort: number,
  ) {}

  /** Boots a node on free ports in a fresh temp dir; waits until it accepts commands (`await_startup`). */
  static async start(options: { bootTimeoutMs?: number } = {}): Promise<RabbitNode> {
    const missing = rabbitNodeMissing();
    if (missing) throw new Error(missing);
    const dir = mkdtempSync(join(tmpdir(), 'braid-rabbit-'));
    const [port, distPort, epmdPort] = [await freePort(), await freePort(), await freePort()];
    const node = new RabbitNode(dir, `braid${port}@localhost`, port, distPort, epmdPort);
    live.add(node);
    mkdirSync(join(dir, 'mnesia'), { recursive: true });
    mkdirSync(join(dir, 'log'), { recursive: true });
    writeFileSync(join(dir, 'rabbitmq.conf'), `listeners.tcp.default = 127.0.0.1:${port}\nloopback_users = none\n`);
    writeFileSync(join(dir, 'rabbitmq-env.conf'), '');
    writeFileSync(join(dir, 'enabled_plugins'), '[].\n');
    try {
      await node.boot(options.bootTimeoutMs);
    } catch (error) {
      await node.stop();
      throw error;
    }
    return node;
  }

  /** `amqp://guest:guest@127.0.0.1:<port>` (guest may connect: `loopback_users = none`, and it is loopback anyway). */
  get url(): string {
    return `amqp://guest:guest@127.0.0.1:${this.port}`;
  }

  /** Pid of the Erlang VM, from its pid file. */
  get pid(): number | undefined {
    try {
      const pid = Number(readFileSync(join(this.dir, 'rabbit.pid'), 'utf8').trim());
      return Number.isInteger(pid) && pid > 0 ? pid : undefined;
    } catch {
      return undefined;
    }
  }

  /** Runs `rabbitmqctl -q <args>` against this node. */
  async ctl(...args: string[]): Promise<string> {
    const { stdout } = await run(join(SBIN, 'rabbitmqctl'), ['-q', ...args], { env: this.env(), timeout: 120_000 });
    return stdout;
  }

  /** `rabbitmqctl close_all_connections <reason>`. */
  async closeAllConnections(reason = 'chaos'): Promise<void> {
    await this.ctl('close_all_connections', reason);
  }

  /** `messages` (ready + unacked) of every queue whose name starts with `prefix`. */
  async queues(prefix: string): Promise<Map<string, number>> {
    const out = new Map<string, number>();
    for (const line of (await this.ctl('list_queues', '-s', 'name', 'messages')).split('\n')) {
      const [name, messages] = line.trim().split('\t');
      if (name?.startsWith(prefix) && messages !== undefined) out.set(name, Number(messages));
    }
    return out;
  }

  /** `kill -9` of the VM (a crash); `restart()` boots it again. */
  async kill(): Promise<void> {
    const pid = this.pid;
    const child = this.child;
    this.child = undefined;
    const exited = child && child.exitCode === null && child.signalCode === null ? new Promise((resolve) => child.once('exit', resolve)) : undefined;
    if (pid !== undefined) {
      try {
        process.kill(pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    if (child?.pid !== undefined) {
      try {
        process.kill(-child.pid, 'SIGKILL');
      } catch {
        // already gone
      }
    }
    await exited;
    rmSync(join(this.dir, 'rabbit.pid'), { force: true });
  }

  /** `kill -9`, then boot again on the same dir and ports. */
  async restart(options: { bootTimeoutMs?: number } = {}): Promise<void> {
    await this.kill();
    await this.boot(options.bootTimeoutMs);
  }

  /** Kills the node and its epmd and removes the dir. */
  async stop(): Promise<void> {
    await this.kill();
    // epmd refuses `-kill` while it still lists the node (until it sees the VM's socket close): retry a little.
    for (let i = 0; i < 10; i++) {
      const out = await run('epmd', ['-kill'], { env: { ...process.env, ERL_EPMD_PORT: String(this.epmdPort) }, timeout: 10_000 }).then((r) => r.stdout, (e: Error) => e.message);
      if (/Killed|Cannot connect/.test(out)) break;
      await new Promise((resolve) => setTimeout(resolve, 300));
    }
    live.delete(this);
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous last resort at process exit. */
  killNow(): void {
    const pid = this.pid;
    for (const target of [pid, this.child?.pid === undefined ? undefined : -this.child.pid]) {
      if (target === undefined) continue;
      try {
        process.kill(target, 'SIGKILL');
      } catch {
        // gone
      }
    }
  }

  private env(): NodeJS.ProcessEnv {
    const d = this.dir;
    return {
      ...process.env,
      HOME: d,
      RABBITMQ_NODENAME: this.name,
      RABBITMQ_NODE_IP_ADDRESS: '127.0.0.1',
      RABBITMQ_NODE_PORT: String(this.port),
      RABBITMQ_DIST_PORT: String(this.distPort),
      ERL_EPMD_PORT: String(this.epmdPort),
      ERL_EPMD_ADDRESS: '127.0.0.1',
      RABBITMQ_MNESIA_BASE: join(d, 'mnesia'),
      RABBITMQ_LOG_BASE: join(d, 'log'),
      RABBITMQ_PID_FILE: join(d, 'rabbit.pid'),
      RABBITMQ_CONFIG_FILE: join(d, 'rabbitmq.conf'),
      RABBITMQ_CONF_ENV_FILE: join(d, 'rabbitmq-env.conf'),
      RABBITMQ_ENABLED_PLUGINS_FILE: join(d, 'enabled_plugins'),
      RABBITMQ_PLUGINS_EXPAND_DIR: join(d, 'plugins-expand'),
      RABBITMQ_FEATURE_FLAGS_FILE: join(d, 'feature_flags'),
    };
  }

  private async boot(timeoutMs = 180_000): Promise<void> {
    this.boots += 1;
    const log = join(this.dir, `boot-${this.boots}.log`);
    const out = openSync(log, 'a');
    const child = spawn(join(SBIN, 'rabbitmq-server'), [], { env: this.env(), cwd: this.dir, detached: true, stdio: ['ignore', out, out] });
    closeSync(out);
    this.child = child;
    let exit: string | undefined;
    child.once('exit', (code, signal) => (exit = `exited with ${signal ?? code}`));
    child.once('error', (error) => (exit = error.message));
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      if (exit !== undefined) throw new Error(`private RabbitMQ node ${this.name} ${exit} while booting: ${tail(log)}`);
      const up = await run(join(SBIN, 'rabbitmqctl'), ['-q', 'await_startup', '--timeout', '5'], { env: this.env(), timeout: 60_000 }).then(() => true, () => false);
      if (up && this.pid !== undefined) return;
      if (Date.now() > deadline) throw new Error(`private RabbitMQ node ${this.name} not up within ${timeoutMs} ms: ${tail(log)}`);
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
  }
}

function tail(path: string): string {
  try {
    return readFileSync(path, 'utf8').trim().split('\n').slice(-5).join(' | ');
  } catch {
    return '(no log)';
  }
}
