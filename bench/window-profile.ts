/**
 * A CPU profile of the measured window only (not the process's start, module loading and warm-up, which
 * `--cpu-prof` includes): set `BENCH_WINDOW_PROF=DIR` for a bench child (bench/ab.ts `--window-prof DIR`) and
 * it writes `DIR/<lib>-<kind>-<size>-<pid>.cpuprofile`, for bench/profile-summary.ts.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import { join } from 'node:path';
import type { JobSpec } from './spec.js';

/** A started profile of the window, or undefined when `BENCH_WINDOW_PROF` is not set. */
export interface WindowProfile {
  /** Stops the profile and writes it. */
  stop(): Promise<void>;
}

/** Starts profiling when `BENCH_WINDOW_PROF` names a directory. */
export async function startWindowProfile(spec: JobSpec): Promise<WindowProfile | undefined> {
  const dir = process.env.BENCH_WINDOW_PROF;
  if (!dir) return undefined;
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 200 });
  await session.post('Profiler.start');
  return {
    async stop() {
      const { profile } = await session.post('Profiler.stop');
      session.disconnect();
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, `${spec.lib}-${spec.kind}-${spec.size}-${process.pid}.cpuprofile`), JSON.stringify(profile));
    },
  };
}
