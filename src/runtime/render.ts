/**
 * Renders a workflow snapshot as a Mermaid flowchart or a Graphviz DOT graph, one style per node state.
 * Labels are escaped so stored strings render as text (RELIABILITY §5 row 19, S13).
 */
import type { NodeSnapshot, NodeSnapshotState, WorkflowSnapshot } from '../core/snapshot.js';

/** Fill and stroke colours per state, shared by both renderers. */
export const STATE_COLOURS: Readonly<Record<NodeSnapshotState, { fill: string; stroke: string }>> = {
  pending: { fill: '#f4f4f5', stroke: '#a1a1aa' },
  queued: { fill: '#e0f2fe', stroke: '#0284c7' },
  running: { fill: '#fef9c3', stroke: '#ca8a04' },
  retrying: { fill: '#ffedd5', stroke: '#ea580c' },
  succeeded: { fill: '#dcfce7', stroke: '#16a34a' },
  failed: { fill: '#fee2e2', stroke: '#dc2626' },
  blocked: { fill: '#e4e4e7', stroke: '#52525b' },
  canceled: { fill: '#f5f5f4', stroke: '#78716c' },
};

function mermaidId(nodeId: string): string {
  return `n_${nodeId.replace(/[^A-Za-z0-9_]/g, (ch) => `_${ch.charCodeAt(0).toString(16)}_`)}`;
}

/** Escapes text for a quoted Mermaid label: quotes and markup characters become entity codes. */
export function escapeMermaid(text: string): string {
  return text.replace(/[&"<>#`{}[\]|()\\-]/g, (ch) => `#${ch.charCodeAt(0)};`).replace(/\r?\n/g, ' ');
}

function label(node: NodeSnapshot): string {
  const attempts = node.attempts > 1 ? ` x${node.attempts}` : '';
  return `${node.task} (${node.id}) ${node.state}${attempts}`;
}

/** A Mermaid flowchart of the snapshot (`flowchart TD`), nodes styled by state. */
export function toMermaid(snapshot: WorkflowSnapshot): string {
  const lines = ['flowchart TD'];
  for (const state of Object.keys(STATE_COLOURS) as NodeSnapshotState[]) {
    const c = STATE_COLOURS[state];
    lines.push(`  classDef ${state} fill:${c.fill},stroke:${c.stroke},color:#111`);
  }
  for (const node of snapshot.nodes) lines.push(`  ${mermaidId(node.id)}["${escapeMermaid(label(node))}"]:::${node.state}`);
  for (const node of snapshot.nodes) {
    for (const dep of node.deps) lines.push(`  ${mermaidId(dep)} --> ${mermaidId(node.id)}`);
    if (node.replacing) lines.push(`  ${mermaidId(node.replacing)} -.-> ${mermaidId(node.id)}`);
  }
  return `${lines.join('\n')}\n`;
}

/** Escapes text for a double-quoted DOT string. */
export function escapeDot(text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\r?\n/g, '\\n');
}

/** A Graphviz DOT digraph of the snapshot, nodes filled by state. */
export function toDot(snapshot: WorkflowSnapshot): string {
  const lines = [`digraph "${escapeDot(snapshot.id)}" {`, '  rankdir=TB;', '  node [shape=box, style="rounded,filled", fontname="Helvetica"];'];
  for (const node of snapshot.nodes) {
    const c = STATE_COLOURS[node.state];
    lines.push(`  "${escapeDot(node.id)}" [label="${escapeDot(label(node))}", fillcolor="${c.fill}", color="${c.stroke}"];`);
  }
  for (const node of snapshot.nodes) {
    for (const dep of node.deps) lines.push(`  "${escapeDot(dep)}" -> "${escapeDot(node.id)}";`);
    if (node.replacing) lines.push(`  "${escapeDot(node.replacing)}" -> "${escapeDot(node.id)}" [style=dashed];`);
  }
  lines.push('}');
  return `${lines.join('\n')}\n`;
}
