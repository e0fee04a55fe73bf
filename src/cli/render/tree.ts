/**
 * A workflow snapshot as a compact list for the terminal: one line per node, in declaration order, grouped in
 * levels (a node's level is one more than its deepest dependency), and nodes that share a level (they can run
 * in parallel) joined by a bracket. Errbacks come last. Each line: symbol, state, task, node id, attempts, then
 * the result or the error, shortened.
 */
import type { NodeSnapshot, WorkflowSnapshot } from '../../core/snapshot.js';
import { Style, SYMBOLS } from './style.js';

/** The level of each node: 0 without dependencies, else one more than its deepest dependency. */
export function levels(nodes: readonly NodeSnapshot[]): Map<string, number> {
  const byId = new Map(nodes.map((n) => [n.id, n]));
  const level = new Map<string, number>();
  for (const node of nodes) {
    const deps = [...node.deps, ...(node.replacing ? [node.replacing] : [])];
    let deepest = -1;
    for (const dep of deps) deepest = Math.max(deepest, level.get(dep) ?? (byId.has(dep) ? 0 : -1));
    level.set(node.id, deepest + 1);
  }
  return level;
}

/** Shortens text to `max` characters with an ellipsis. */
export function shorten(text: string, max: number): string {
  const flat = text.replace(/\s+/g, ' ');
  return flat.length <= max ? flat : `${flat.slice(0, max - 1)}…`;
}

/** What a node shows after its name: its result, or the error it failed or is retrying with. */
export function detail(node: NodeSnapshot): string {
  if ((node.state === 'failed' || node.state === 'retrying') && node.error) return `${node.error.name}: ${node.error.message}`;
  if (node.state === 'succeeded' && node.result !== undefined) return `→ ${JSON.stringify(node.result)}`;
  return '';
}

/** The lines of the list (no trailing newline). */
export function renderTree(snapshot: WorkflowSnapshot, style: Style): string[] {
  const tasks = snapshot.nodes.filter((n) => n.kind !== 'errback');
  const errbacks = snapshot.nodes.filter((n) => n.kind === 'errback');
  const level = levels(tasks);
  // Loops, not Math.max(...): a spread of more than about 120,000 arguments overflows the stack.
  let width = 12;
  let idWidth = 3;
  for (const n of snapshot.nodes) {
    width = Math.max(width, n.task.length);
    idWidth = Math.max(idWidth, n.id.length);
  }
  const line = (node: NodeSnapshot, bracket: string): string => {
    const state = style.state(node.state, `${SYMBOLS[node.state]} ${node.state.padEnd(9)}`);
    const attempts = node.attempts > 1 ? `×${node.attempts}` : '';
    const text = detail(node);
    const tail = text ? ` ${node.state === 'succeeded' ? style.paint('dim', shorten(text, 60)) : style.state(node.state, shorten(text, 70))}` : '';
    return `  ${style.paint('gray', bracket)}${state} ${node.task.padEnd(width)} ${style.paint('dim', node.id.padEnd(idWidth))} ${attempts.padEnd(3)}${tail}`.trimEnd();
  };
  const out: string[] = [];
  const byLevel = new Map<number, NodeSnapshot[]>();
  for (const node of tasks) {
    const l = level.get(node.id) ?? 0;
    const row = byLevel.get(l);
    if (row) row.push(node);
    else byLevel.set(l, [node]);
  }
  for (const l of [...byLevel.keys()].sort((a, b) => a - b)) {
    const row = byLevel.get(l)!;
    row.forEach((node, i) => {
      const bracket = row.length === 1 ? '  ' : i === 0 ? '┌ ' : i === row.length - 1 ? '└ ' : '│ ';
      out.push(line(node, bracket));
    });
  }
  if (errbacks.length > 0) {
    out.push(`  ${style.paint('dim', 'errbacks (run once when a node fails for good):')}`);
    for (const node of errbacks) out.push(line(node, '  '));
  }
  return out;
}

/** A one-line heading: workflow id, state, node counts by state. */
export function renderHeading(snapshot: WorkflowSnapshot, style: Style): string {
  const counts = new Map<string, number>();
  for (const node of snapshot.nodes) counts.set(node.state, (counts.get(node.state) ?? 0) + 1);
  const summary = [...counts].map(([state, n]) => `${n} ${state}`).join(', ');
  return `workflow ${style.paint('bold', snapshot.id)}  ${style.state(snapshot.state, snapshot.state)}  (${summary})`;
}
