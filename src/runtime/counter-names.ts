/**
 * Names of the per-commit counters, `commit.<outcome>.<status>` (e.g. `commit.complete.ok`), made once: a
 * name built per task would be a fresh string to allocate and hash on every commit.
 */

const names = new Map<string, Map<string, string>>();

/** `commit.${kind}.${status}`, the same string object every time. */
export function commitCounter(kind: string, status: string): string {
  let byStatus = names.get(kind);
  if (!byStatus) names.set(kind, (byStatus = new Map()));
  let name = byStatus.get(status);
  if (name === undefined) byStatus.set(status, (name = `commit.${kind}.${status}`));
  return name;
}
