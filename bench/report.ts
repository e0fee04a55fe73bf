/**
 * From the children's results to figures: the median over repetitions of every figure, the ratio
 * braid/BullMQ, and the issue-3 target each ratio is held against. Rendered as a text table or JSON.
 */
import type { JobResult, Library, WorkloadKind } from './spec.js';

/** One row of the comparison. */
export interface Row {
  figure: string;
  metric: string;
  braid: number | null;
  bullmq: number | null;
  /** braid / BullMQ. */
  ratio: number | null;
  /** Human-readable target, e.g. '>= 2'. */
  target: string;
  met: boolean | null;
}

/** One row of the memory:// chord scaling. */
export interface MemoryRow {
  size: number;
  totalMs: number;
  cpuMs: number;
  perNodeUs: number;
  peakRssMb: number;
  samples: number[];
}

export function median(xs: readonly number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const mid = s.length >> 1;
  return s.length === 0 ? NaN : s.length % 2 === 1 ? s[mid]! : (s[mid - 1]! + s[mid]!) / 2;
}

export function percentile(xs: readonly number[], p: number): number {
  const s = [...xs].sort((a, b) => a - b);
  return s.length === 0 ? NaN : s[Math.min(s.length - 1, Math.ceil((p / 100) * s.length) - 1)]!;
}

type Pick = (r: JobResult) => number | undefined;

/** Median over the repetitions of one (library, workload, size). */
function med(results: readonly JobResult[], lib: Library, kind: WorkloadKind, size: number, pick: Pick): number | null {
  const xs = results.filter((r) => r.spec.lib === lib && r.spec.kind === kind && r.spec.size === size).map(pick).filter((x): x is number => x !== undefined && Number.isFinite(x));
  return xs.length === 0 ? null : median(xs);
}

type Goal = { text: string; ok: (ratio: number, braid: number) => boolean } | undefined;

function row(results: readonly JobResult[], figure: string, metric: string, kind: WorkloadKind, size: number, pick: Pick, goal: Goal): Row {
  const braid = med(results, 'braid', kind, size, pick);
  const bullmq = med(results, 'bullmq', kind, size, pick);
  const ratio = braid !== null && bullmq !== null && bullmq !== 0 ? braid / bullmq : null;
  const met = goal && ratio !== null && braid !== null ? goal.ok(ratio, braid) : null;
  return { figure, metric, braid, bullmq, ratio, target: goal?.text ?? '', met };
}

const fmt = (n: number): string => n.toLocaleString('en-US');

/** The comparison rows for whatever figures ran. */
export function comparisonRows(results: readonly JobResult[], sizes: { independent: number; chords: number[]; chainSteps: number; singles: number }): Row[] {
  const rows: Row[] = [];
  const has = (kind: WorkloadKind): boolean => results.some((r) => r.spec.kind === kind);
  const perTask = (f: (r: JobResult) => number | undefined): Pick => (r) => { const v = f(r); return v === undefined ? undefined : v / r.tasks; };
  const workloads: Array<{ label: string; kind: WorkloadKind; size: number }> = [];
  if (has('a')) {
    const n = sizes.independent;
    rows.push(row(results, 'a', `${fmt(n)} independent tasks, tasks/s`, 'a', n, (r) => (r.tasks * 1000) / r.ms, { text: '>= 2', ok: (x) => x >= 2 }));
    workloads.push({ label: 'a', kind: 'a', size: n });
  }
  if (has('b')) {
    for (const n of sizes.chords) {
      rows.push(row(results, 'b', `chord of ${fmt(n)}, start to result, ms`, 'b', n, (r) => r.ms, { text: '<= 0.33', ok: (x) => x <= 1 / 3 }));
      workloads.push({ label: `b ${fmt(n)}`, kind: 'b', size: n });
    }
  }
  if (has('c')) {
    const n = sizes.chainSteps;
    rows.push(row(results, 'c', `chain of ${n}, ms per step`, 'c', n, (r) => r.ms / r.tasks, { text: '<= 1', ok: (x) => x <= 1 }));
    workloads.push({ label: 'c', kind: 'c', size: n });
  }
  if (has('d')) {
    const n = sizes.singles;
    rows.push(row(results, 'd', `one task, median of ${n}, ms`, 'd', n, (r) => (r.latencies ? median(r.latencies) : undefined), { text: '<= 1', ok: (x) => x <= 1 }));
    rows.push(row(results, 'd', `one task, p99 of ${n}, ms`, 'd', n, (r) => (r.latencies ? percentile(r.latencies, 99) : undefined), { text: '<= 1', ok: (x) => x <= 1 }));
    workloads.push({ label: 'd', kind: 'd', size: n });
  }
  for (const w of workloads) rows.push(row(results, 'e', `peak RSS during ${w.label}, MiB`, w.kind, w.size, (r) => r.peakRssMb, undefined));
  for (const w of workloads) {
    rows.push(row(results, 'cpu', `${w.label}: node CPU per task, us`, w.kind, w.size, perTask((r) => r.cpuMs * 1000), undefined));
    rows.push(row(results, 'cpu', `${w.label}: redis-server CPU per task, us`, w.kind, w.size, perTask((r) => (r.redis ? r.redis.serverCpuMs * 1000 : undefined)), undefined));
  }
  const roundTrips: Goal = { text: 'braid <= 3', ok: (_x, braid) => braid <= 3 };
  for (const w of workloads) {
    rows.push(row(results, 'f', `${w.label}: commands sent per task`, w.kind, w.size, perTask((r) => r.redis?.clientCommands), undefined));
    rows.push(row(results, 'f', `${w.label}: round trips (socket writes) per task`, w.kind, w.size, perTask((r) => r.redis?.clientWrites), roundTrips));
    rows.push(row(results, 'f', `${w.label}: server commands incl. Lua-internal per task`, w.kind, w.size, perTask((r) => r.redis?.serverCommands), undefined));
  }
  return rows;
}

/** memory:// chord rows, medians over repetitions. */
export function memoryRows(results: readonly JobResult[], sizes: readonly number[]): MemoryRow[] {
  return sizes.flatMap((size) => {
    const runs = results.filter((r) => r.spec.kind === 'memory-chord' && r.spec.size === size);
    if (runs.length === 0) return [];
    const totalMs = median(runs.map((r) => r.ms));
    return [{ size, totalMs, cpuMs: median(runs.map((r) => r.cpuMs)), perNodeUs: (totalMs * 1000) / size, peakRssMb: median(runs.map((r) => r.peakRssMb)), samples: runs.map((r) => r.ms) }];
  });
}

function num(n: number | null, digits: number): string {
  if (n === null) return 'n/a';
  const abs = Math.abs(n);
  const d = abs >= 1000 ? 0 : abs >= 100 ? Math.min(digits, 1) : digits;
  return n.toLocaleString('en-US', { minimumFractionDigits: d, maximumFractionDigits: d });
}

function table(head: string[], body: string[][]): string {
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((r) => r[i]!.length)));
  const line = (cells: string[]): string => cells.map((c, i) => (i <= 1 ? c.padEnd(widths[i]!) : c.padStart(widths[i]!))).join('  ');
  return [line(head), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

/** The comparison as a text table. */
export function renderRows(rows: readonly Row[]): string {
  return table(
    ['fig', 'metric', 'braid', 'BullMQ', 'braid/BullMQ', 'target', 'met'],
    rows.map((r) => [r.figure, r.metric, num(r.braid, 2), num(r.bullmq, 2), num(r.ratio, 2), r.target, r.met === null ? '' : r.met ? 'yes' : 'NO']),
  );
}

/** The memory:// scaling as a text table, with the flatness of the per-node cost. */
export function renderMemory(rows: readonly MemoryRow[]): string {
  const first = rows[0];
  const body = rows.map((r) => [
    'memory', `chord of ${fmt(r.size)}`, num(r.totalMs, 1), num(r.perNodeUs, 2), first ? num(r.perNodeUs / first.perNodeUs, 2) : '',
    num((r.cpuMs * 1000) / r.size, 2), num(r.peakRssMb, 1),
  ]);
  return table(['', 'workload', 'total ms', 'us/node', 'vs smallest', 'CPU us/node', 'peak RSS MiB'], body);
}
