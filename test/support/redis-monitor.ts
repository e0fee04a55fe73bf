/**
 * MONITOR for tests: records which client sent which command to a Redis server, in the order the server ran
 * them, so a test can check command order and connection (e.g. that pushes ride behind a create, or claims in
 * front of a block).
 */
import assert from 'node:assert/strict';
import { Redis } from 'ioredis';

/** One command the server ran: the sending client's `addr` and the command's arguments. */
export interface Seen {
  client: string;
  args: string[];
}

/** A running MONITOR: what it has seen so far, and how to end it. */
export interface Monitor {
  readonly seen: Seen[];
  /** Errors of the monitoring connection before `stop()` (after one, `seen` may be incomplete). */
  readonly errors: Error[];
  stop(): void;
}

/** Records every command the server at `url` runs, until `stop()`. */
export async function monitor(url: string): Promise<Monitor> {
  const seen: Seen[] = [];
  const errors: Error[] = [];
  const client = new Redis(url);
  client.on('error', () => undefined); // its own connection only issued MONITOR; what counts is m's
  const m = await client.monitor();
  let stopped = false;
  m.on('monitor', (_time: string, args: string[], source: string) => {
    if (!stopped) seen.push({ client: source, args });
  });
  // ioredis' monitor mode can be confused by a command line that arrives with MONITOR's OK, or by a reply in
  // flight when the connection is dropped ("Command queue state error"): recorded, never thrown from here (an
  // exception in an ioredis event handler leaves its connections reconnecting for good).
  m.on('error', (error: Error) => {
    if (!stopped) errors.push(error);
  });
  return {
    seen,
    errors,
    stop: () => {
      stopped = true;
      m.disconnect();
      client.disconnect();
    },
  };
}

/** Resolves once MONITOR has shown a command matching `pred`; fails after about 2.5 s. */
export async function until(seen: readonly Seen[], pred: (s: Seen) => boolean): Promise<void> {
  for (let i = 0; i < 500 && !seen.some(pred); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  assert.ok(seen.some(pred), 'the command never showed in MONITOR');
}

/** Client names by address (`CLIENT LIST`), e.g. the broker consumers' `braid-consumer-…` connections. */
export async function clientNames(url: string): Promise<Map<string, string>> {
  const client = new Redis(url);
  try {
    const list = String(await client.call('CLIENT', 'LIST'));
    const names = new Map<string, string>();
    for (const line of list.split('\n')) {
      const addr = /(?:^| )addr=(\S+)/.exec(line)?.[1];
      const name = /(?:^| )name=(\S*)/.exec(line)?.[1];
      if (addr) names.set(addr, name ?? '');
    }
    return names;
  } finally {
    client.disconnect();
  }
}
