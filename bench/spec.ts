/**
 * What one measured job is (the parent sends it to a fresh child process) and what the child sends back.
 * Every figure runs in its own process so that peak RSS, JIT state and open connections of one library
 * never leak into the other's figure.
 */

/** The workloads of issue 3 "Benchmark", plus the memory:// chord scaling of issue 2. */
export type WorkloadKind =
  | 'a' // N independent trivial tasks, throughput
  | 'b' // chord (flow) of N trivial header tasks, start to result
  | 'c' // chain of N steps, time per step
  | 'd' // one task, start to result, N sequential runs
  | 'memory-chord'; // braid chord on memory://, N header nodes

/** Which library runs the workload. */
export type Library = 'braid' | 'bullmq';

/** One job for a child process. */
export interface JobSpec {
  lib: Library;
  kind: WorkloadKind;
  /** Tasks (a), header size (b, memory-chord), steps (c), sequential runs (d). */
  size: number;
  /** Worker concurrency (same for both libraries). */
  concurrency: number;
  /** Producer batch size for (a): starts in flight at once. */
  batch: number;
  /** redis://127.0.0.1:port of the bench's own server (unused by memory-chord). */
  redisUrl: string;
  /** Where braid is imported from: src/ (through tsx), dist/ (compiled), or another build's directory. */
  braidFrom: string;
}

/** What a child measured. */
export interface JobResult {
  spec: JobSpec;
  /** Wall time of the measured window, ms. */
  ms: number;
  /** Tasks the window ran (denominator of per-task figures). */
  tasks: number;
  /** Per-run latencies in ms (d only). */
  latencies?: number[];
  /** CPU time (user + system) of the child process during the measured window, ms. */
  cpuMs: number;
  /** Peak resident set size of the child process (worker + producer), MiB. */
  peakRssMb: number;
  /** Counts taken inside the measured window (absent on memory://). */
  redis?: RedisCounts;
}

/** Redis traffic of the measured window. */
export interface RedisCounts {
  /** Commands the clients sent (ioredis `sendCommand`), EVALSHA counted once, MULTI/EXEC included. */
  clientCommands: number;
  /** Those commands by name (scripts under their ioredis name, e.g. `evalsha` or a defineCommand name). */
  sent: Record<string, number>;
  /** Of those, how many travelled inside a pipeline or MULTI. */
  pipelinedCommands: number;
  /** Socket writes to Redis: one per request or per pipeline flush = round trips (requests awaiting a reply). */
  clientWrites: number;
  /** Server `total_commands_processed` delta (counts the commands run inside Lua scripts too). */
  serverCommands: number;
  /** Server `total_reads_processed` delta: read events, where back-to-back requests may coalesce. */
  serverReads: number;
  /** Server CPU time (`used_cpu_user` + `used_cpu_sys` delta), ms: what the workload cost Redis. */
  serverCpuMs: number;
  /** `INFO commandstats` delta: calls per command name (Lua-internal calls included), INFO excluded. */
  commandstats: Record<string, number>;
}
