/**
 * Named crash points for fault tests (RELIABILITY §4): `BRAID_TEST_CRASH_AT=<point>[,<n>]` makes the process
 * SIGKILL itself on the n-th arrival (default 1st) at that point. Unset, a cheap no-op.
 */

/** Every crash point a worker passes. */
export type CrashPoint = 'after-claim-before-start' | 'after-commit-before-ack' | 'after-commit-before-publish' | 'before-renew' | 'after-replace-before-commit';

const setting = process.env.BRAID_TEST_CRASH_AT;
const [armedPoint, armedCount] = setting ? [setting.split(',')[0], Number(setting.split(',')[1] ?? 1)] : [undefined, 0];
let arrivals = 0;

/** Kills the process here when this point is armed and its arrival count is reached. */
export function crashPoint(point: CrashPoint): void {
  if (armedPoint !== point) return;
  arrivals++;
  if (arrivals === armedCount) process.kill(process.pid, 'SIGKILL');
}
