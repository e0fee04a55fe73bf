/**
 * Terminal styling: one symbol and one colour per node state, and ANSI colour only when asked for (a TTY
 * without `NO_COLOR`). Plain text otherwise, so piped output and logs stay greppable.
 */
import type { NodeSnapshotState, WorkflowSnapshotState } from '../../core/snapshot.js';

/** The symbol shown for each node state. */
export const SYMBOLS: Readonly<Record<NodeSnapshotState, string>> = {
  pending: '○',
  queued: '◔',
  running: '●',
  retrying: '↻',
  succeeded: '✓',
  failed: '✗',
  blocked: '⊘',
  canceled: '⊖',
};

const CODES = {
  bold: [1, 22], dim: [2, 22], red: [31, 39], green: [32, 39], yellow: [33, 39], blue: [34, 39],
  magenta: [35, 39], cyan: [36, 39], gray: [90, 39],
} as const;

/** A colour or weight. */
export type Tone = keyof typeof CODES;

const STATE_TONES: Readonly<Record<NodeSnapshotState | WorkflowSnapshotState, Tone>> = {
  pending: 'gray', queued: 'blue', running: 'yellow', retrying: 'magenta', succeeded: 'green',
  failed: 'red', blocked: 'gray', canceled: 'gray',
};

/** Paints text, or leaves it alone when colour is off. */
export class Style {
  constructor(readonly color: boolean) {}

  /** Whether to use colour on this stream: a TTY, and `NO_COLOR` unset (https://no-color.org). */
  static for(stream: { isTTY?: boolean }, env: NodeJS.ProcessEnv = process.env): Style {
    return new Style(stream.isTTY === true && !env.NO_COLOR && env.TERM !== 'dumb');
  }

  paint(tone: Tone, text: string): string {
    if (!this.color) return text;
    const [open, close] = CODES[tone];
    return `\u001b[${open}m${text}\u001b[${close}m`;
  }

  /** Text in the colour of a node or workflow state. */
  state(state: NodeSnapshotState | WorkflowSnapshotState, text: string): string {
    return this.paint(STATE_TONES[state], text);
  }
}
