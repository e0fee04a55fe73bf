/**
 * Exit codes of the `braid` command line and the one place where a thrown error becomes a one-line message
 * and a code (no stack traces unless `BRAID_DEBUG=1`).
 */
import { BraidError, CanvasError, StoreLostError, WorkflowCanceledError, WorkflowFailedError, WorkflowStateError } from '../core/errors.js';

/** Exit codes, stable for scripts. */
export const EXIT = {
  /** Done. */
  ok: 0,
  /** The operation failed (a workflow failed, an unexpected error). */
  failed: 1,
  /** Bad usage or configuration: options, URL, workflow id, app module. */
  usage: 2,
  /** No such workflow, or its state refuses the operation (`WorkflowStateError`). */
  state: 3,
  /** A broker or store could not be reached in time. */
  unreachable: 4,
} as const;

/** An error the CLI reports as one line with a chosen exit code. */
export class CliError extends Error {
  constructor(readonly exitCode: number, message: string, options?: { cause?: unknown }) {
    super(message, options);
  }
}

/** What to print and which code to exit with for anything thrown by a command. */
export function explain(error: unknown): { message: string; exitCode: number } {
  if (error instanceof CliError) return { message: error.message, exitCode: error.exitCode };
  if (error instanceof WorkflowStateError) return { message: error.message, exitCode: EXIT.state };
  if (error instanceof CanvasError) return { message: error.message, exitCode: EXIT.usage };
  if (error instanceof WorkflowFailedError || error instanceof WorkflowCanceledError || error instanceof StoreLostError) {
    return { message: error.message, exitCode: EXIT.failed };
  }
  if (error instanceof BraidError) return { message: `${error.name}: ${error.message}`, exitCode: EXIT.failed };
  const text = error instanceof Error ? `${error.name}: ${error.message}` : String(error);
  return { message: `unexpected error: ${firstLine(text)} (set BRAID_DEBUG=1 for the stack)`, exitCode: EXIT.failed };
}

/** The first line of a message, for one-line reports. */
export function firstLine(text: string): string {
  return text.split('\n', 1)[0] ?? '';
}
