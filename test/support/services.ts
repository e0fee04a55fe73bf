/**
 * Gates for suites that need a server (DESIGN "Tests"): when `redis-server` or RabbitMQ cannot be found, the
 * suite is skipped and says so loudly on stderr (`SKIPPED: ...`); with `BRAID_REQUIRE_SERVICES=1` (CI) the
 * skip becomes a failing test instead.
 *
 * @example
 * const redis = await requireRedis();
 * describe('redis broker', { skip: redis.skip }, () => { ... });
 */
import { accessSync, constants } from 'node:fs';
import { createConnection } from 'node:net';
import { delimiter, join } from 'node:path';
import { test } from 'node:test';

/** Whether a service is there, in the shape `describe(name, { skip }, ...)` takes. */
export interface ServiceGate {
  /** True when the service was found. */
  readonly available: boolean;
  /** `false` when available, else the reason: pass it as the `skip` option of `describe` or `it`. */
  readonly skip: string | false;
}

/** True when CI asked for every service (`BRAID_REQUIRE_SERVICES=1`). */
export function servicesRequired(): boolean {
  return process.env.BRAID_REQUIRE_SERVICES === '1';
}

/** Full path of an executable found on the PATH, or undefined. */
export function findExecutable(name: string): string | undefined {
  const dirs = (process.env.PATH ?? '').split(delimiter).filter((dir) => dir !== '');
  for (const dir of dirs) {
    const candidate = join(dir, name);
    try {
      accessSync(candidate, constants.X_OK);
      return candidate;
    } catch {
      // not in this dir
    }
  }
  return undefined;
}

/** Resolves true when something accepts TCP connections at host:port within `timeoutMs`. */
export async function canConnect(host: string, port: number, timeoutMs = 1_000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ host, port });
    const done = (ok: boolean): void => {
      socket.destroy();
      resolve(ok);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

/**
 * Turns a missing service into a loud skip, or into a failing test under `BRAID_REQUIRE_SERVICES=1`.
 * Call at module top level, before registering the suite.
 */
export function gate(service: string, found: boolean, why: string): ServiceGate {
  if (found) return { available: true, skip: false };
  const reason = `SKIPPED: ${service} not available (${why})`;
  if (servicesRequired()) {
    test(`${service} is required (BRAID_REQUIRE_SERVICES=1)`, () => {
      throw new Error(`${service} not available (${why}) and BRAID_REQUIRE_SERVICES=1`);
    });
  } else {
    process.stderr.write(`\n*** ${reason}; set BRAID_REQUIRE_SERVICES=1 to make this a failure ***\n\n`);
  }
  return { available: false, skip: reason };
}

/** Gate for suites that start a private `redis-server` (binary from `BRAID_REDIS_SERVER` or the PATH). */
export async function requireRedis(): Promise<ServiceGate> {
  const configured = process.env.BRAID_REDIS_SERVER;
  const found = configured !== undefined ? isExecutable(configured) : findExecutable('redis-server') !== undefined;
  return gate('redis-server', found, configured ?? 'no redis-server on the PATH');
}

/** Gate for suites that use the shared RabbitMQ at 127.0.0.1:5672 (queues under a random prefix). */
export async function requireRabbit(host = '127.0.0.1', port = 5672): Promise<ServiceGate> {
  return gate('RabbitMQ', await canConnect(host, port), `nothing listening on ${host}:${port}`);
}

function isExecutable(path: string): boolean {
  try {
    accessSync(path, constants.X_OK);
    return true;
  } catch {
    return false;
  }
}
