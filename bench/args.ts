/**
 * Command line of `npm run bench`:
 *   --only a,b,c,d,memory,amqp   figures to run (default: all; e and f come with a..d; amqp: braid on
 *                           amqp:// + Redis store over those of a..d that run, all four with --only amqp)
 *   --quick                 small sizes, one repetition (CI smoke)
 *   --json                  print the results as JSON instead of the table
 *   --repeat N              runs per figure, the median is reported (default 3, --quick 1)
 *   --concurrency N         worker concurrency of both libraries (default 100)
 *   --from src|dist|DIR     where braid is imported from (default: dist when built and newer than src; DIR: a
 *                           build elsewhere, e.g. an A/B copy of dist/ under the repo so it resolves node_modules)
 *   --prof DIR              run every child under `node --cpu-prof`, profiles in DIR
 */
import { existsSync, readdirSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';

/** Figures a run can include. */
export const FIGURES = ['a', 'b', 'c', 'd', 'memory', 'amqp'] as const;
export type Figure = (typeof FIGURES)[number];

/** Sizes of each workload. */
export interface Sizes {
  independent: number;
  chords: number[];
  chainSteps: number;
  singles: number;
  memoryChords: number[];
}

/** Parsed options. */
export interface BenchOptions {
  only: Set<Figure>;
  quick: boolean;
  json: boolean;
  repeat: number;
  concurrency: number;
  batch: number;
  /** `src`, `dist`, or a directory holding a build's index.js (an A/B build of a runtime change). */
  braidFrom: string;
  prof: string | undefined;
  sizes: Sizes;
}

const FULL: Sizes = { independent: 20_000, chords: [1_000, 10_000], chainSteps: 100, singles: 200, memoryChords: [1_000, 10_000, 100_000] };
const QUICK: Sizes = { independent: 2_000, chords: [100, 1_000], chainSteps: 20, singles: 20, memoryChords: [1_000, 10_000] };

function newestMtime(dir: string): number {
  let newest = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const stat = statSync(path);
    newest = Math.max(newest, stat.isDirectory() ? newestMtime(path) : stat.mtimeMs);
  }
  return newest;
}

/** dist/ when it exists and is at least as new as every file under src/, else src/ (through tsx). */
export function defaultBraidFrom(root: string): 'src' | 'dist' {
  const dist = join(root, 'dist', 'index.js');
  if (!existsSync(dist)) return 'src';
  return newestMtime(join(root, 'dist')) >= newestMtime(join(root, 'src')) ? 'dist' : 'src';
}

/** Parses argv (without node and script). */
export function parseBenchArgs(argv: string[], root: string): BenchOptions {
  const { values } = parseArgs({
    args: argv,
    options: {
      only: { type: 'string' },
      quick: { type: 'boolean', default: false },
      json: { type: 'boolean', default: false },
      repeat: { type: 'string' },
      concurrency: { type: 'string', default: '100' },
      batch: { type: 'string', default: '1000' },
      from: { type: 'string' },
      prof: { type: 'string' },
    },
    strict: true,
  });
  const only = new Set<Figure>();
  for (const name of (values.only ?? FIGURES.join(',')).split(',').map((x) => x.trim()).filter(Boolean)) {
    if (!(FIGURES as readonly string[]).includes(name)) throw new Error(`--only: unknown figure ${name} (known: ${FIGURES.join(', ')})`);
    only.add(name as Figure);
  }
  const from = values.from ?? defaultBraidFrom(root);
  if (from !== 'src' && from !== 'dist' && !existsSync(join(from, 'index.js'))) throw new Error('--from takes src, dist or a directory holding a build (index.js)');
  const positive = (text: string, name: string): number => {
    const n = Number(text);
    if (!Number.isInteger(n) || n < 1) throw new Error(`--${name} takes a positive integer`);
    return n;
  };
  return {
    only,
    quick: values.quick,
    json: values.json,
    repeat: positive(values.repeat ?? (values.quick ? '1' : '3'), 'repeat'),
    concurrency: positive(values.concurrency, 'concurrency'),
    batch: positive(values.batch, 'batch'),
    braidFrom: from === 'src' || from === 'dist' ? from : resolve(from),
    prof: values.prof,
    sizes: values.quick ? QUICK : FULL,
  };
}
