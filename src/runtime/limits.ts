/**
 * Size and shape limits, enforced before any write (RELIABILITY §5 "Limits"). All configurable per app.
 */

/** The limits an app enforces. */
export interface Limits {
  /** Largest message body in bytes (default 64 KiB). */
  messageBytes: number;
  /** Largest encoded argument list of one node (default 256 KiB). */
  argsBytes: number;
  /** Largest encoded result (default 256 KiB). */
  resultBytes: number;
  /** Deepest JSON nesting (default 128). */
  jsonDepth: number;
  /** Most nodes per workflow (default 100,000). */
  maxNodes: number;
  /** Deepest canvas nesting (default 1,000). */
  canvasDepth: number;
  /** Most nested `ctx.replace` generations (default 100). */
  replaceGenerations: number;
}

/** The defaults of RELIABILITY §5. */
export const DEFAULT_LIMITS: Readonly<Limits> = Object.freeze({
  messageBytes: 64 * 1024,
  argsBytes: 256 * 1024,
  resultBytes: 256 * 1024,
  jsonDepth: 128,
  maxNodes: 100_000,
  canvasDepth: 1_000,
  replaceGenerations: 100,
});
