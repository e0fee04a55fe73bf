/**
 * The four workloads every library implements, on connections opened once (and warmed up by the caller).
 */

/** One timed run. */
export interface Measured {
  ms: number;
  tasks: number;
}

/** A library's implementation of the benchmark workloads. */
export interface Workload {
  /** (a) `n` independent trivial tasks, produced in batches, until the last one completed. */
  independent(n: number): Promise<Measured>;
  /** (b) `n` trivial header tasks and one body receiving their results, start to result. */
  chord(n: number): Promise<Measured>;
  /** (c) a chain of `n` steps, each receiving the previous result, start to result. */
  chain(n: number): Promise<Measured>;
  /** (d) one task, start to result; returns ms. */
  single(): Promise<number>;
  /** Releases every connection and worker. */
  close(): Promise<void>;
}
