/**
 * Shows a workflow as it changes. On a TTY the list is redrawn in place; otherwise (a pipe, a log, CI) each
 * change is printed once as a line `node task: from → to`, so the output reads as a transcript.
 * Changes come from polling `wf.status()`: a state held shorter than the poll interval may not be seen.
 */
import type { NodeSnapshot, WorkflowSnapshot } from '../../core/snapshot.js';
import type { WorkflowHandle } from '../../runtime/handle.js';
import { Style, SYMBOLS } from './style.js';
import { detail, renderHeading, renderTree, shorten } from './tree.js';

/** Where the view writes. */
export interface Output {
  write(text: string): unknown;
  isTTY?: boolean;
}

/** A live view of one workflow on one output. */
export class LiveView {
  private drawn = 0;
  private last = new Map<string, NodeSnapshot>();

  constructor(private readonly out: Output, private readonly style: Style, private readonly redraw = out.isTTY === true) {}

  /** Shows a new snapshot: redraws (TTY) or prints the nodes that changed. */
  update(snapshot: WorkflowSnapshot): void {
    if (this.redraw) this.draw(snapshot);
    else this.printChanges(snapshot);
    this.last = new Map(snapshot.nodes.map((n) => [n.id, n]));
  }

  /** Prints the whole list once (after the last update, or for a static view); the next redraw starts below. */
  print(snapshot: WorkflowSnapshot): void {
    this.drawn = 0;
    this.out.write(`${[renderHeading(snapshot, this.style), ...renderTree(snapshot, this.style)].join('\n')}\n`);
  }

  /** Forgets what was drawn, so the next update starts a fresh block below the current output. */
  detach(): void {
    this.drawn = 0;
  }

  private draw(snapshot: WorkflowSnapshot): void {
    const lines = [renderHeading(snapshot, this.style), ...renderTree(snapshot, this.style)];
    const up = this.drawn > 0 ? `\u001b[${this.drawn}F\u001b[0J` : '';
    // Auto-wrap off while drawing, so a line wider than the terminal cannot throw the line count off.
    this.out.write(`\u001b[?7l${up}${lines.join('\n')}\n\u001b[?7h`);
    this.drawn = lines.length;
  }

  private printChanges(snapshot: WorkflowSnapshot): void {
    for (const node of snapshot.nodes) {
      const before = this.last.get(node.id);
      if (before && before.state === node.state && before.attempts === node.attempts) continue;
      const from = before ? `${before.state} → ` : '';
      const text = detail(node);
      const symbol = this.style.state(node.state, SYMBOLS[node.state]);
      this.out.write(`  ${symbol} ${node.id} ${node.task}: ${from}${this.style.state(node.state, node.state)}${text ? `  ${shorten(text, 80)}` : ''}\n`);
    }
  }
}

/**
 * Polls a workflow every `intervalMs` and shows each change until it settles; resolves with the settled
 * snapshot.
 */
export async function follow(handle: WorkflowHandle, view: LiveView, intervalMs = 40): Promise<WorkflowSnapshot> {
  let previous = '';
  for (;;) {
    const snapshot = await handle.status();
    const key = JSON.stringify(snapshot.nodes.map((n) => [n.state, n.attempts]));
    if (key !== previous) view.update(snapshot);
    previous = key;
    if (snapshot.state !== 'running') return snapshot;
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}
