/**
 * Summarises V8 CPU profiles (`node --cpu-prof`, as written by `npm run bench -- --prof DIR`): self time by
 * function, by file and by area (braid src/dist, ioredis, bullmq, pino, node internals, GC, idle).
 *
 * Usage: node --import tsx bench/profile-summary.ts <file.cpuprofile | dir>... [--top 30] [--match braid-a]
 *        [--all-threads] (default: main threads only; tsx's loader thread writes a profile too)
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { parseArgs } from 'node:util';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

/** Area of a script URL: where the time goes at a glance. */
function area(url: string, name: string): string {
  if (name === '(garbage collector)') return 'GC';
  if (name === '(idle)') return 'idle';
  if (name === '(program)') return 'V8/native (program)';
  if (url === '') return 'native/builtins';
  if (url.startsWith('node:')) return 'node internals';
  const mod = /node_modules\/((?:@[^/]+\/)?[^/]+)/.exec(url);
  if (mod) return mod[1]!;
  const own = /\/(src|dist|bench)\/(.*)$/.exec(url);
  if (own) return `braid ${own[1]}/${own[2]!.split('/').slice(0, -1).join('/') || '.'}`;
  return url;
}

function shortUrl(url: string): string {
  const mod = /node_modules\/(.*)$/.exec(url);
  if (mod) return mod[1]!;
  const own = /\/((?:src|dist|bench)\/.*)$/.exec(url);
  return own ? own[1]! : url;
}

/** Self time in ms per key. */
function tally(profile: Profile, key: (node: ProfileNode) => string): Map<string, number> {
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const node = byId.get(id);
    if (!node) return;
    const k = key(node);
    out.set(k, (out.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return out;
}

/** Total (inclusive) time in ms per key: every distinct key on the sampled stack gets the sample. */
function inclusive(profile: Profile, key: (node: ProfileNode) => string | undefined): Map<string, number> {
  const parent = new Map<number, number>();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const byId = new Map(profile.nodes.map((n) => [n.id, n]));
  const out = new Map<string, number>();
  profile.samples.forEach((id, i) => {
    const seen = new Set<string>();
    for (let at: number | undefined = id; at !== undefined; at = parent.get(at)) {
      const node = byId.get(at);
      const k = node ? key(node) : undefined;
      if (k !== undefined) seen.add(k);
    }
    for (const k of seen) out.set(k, (out.get(k) ?? 0) + (profile.timeDeltas[i] ?? 0) / 1000);
  });
  return out;
}

function top(map: Map<string, number>, total: number, n: number): string {
  return [...map.entries()].sort((a, b) => b[1] - a[1]).slice(0, n)
    .map(([k, ms]) => `${ms.toFixed(1).padStart(9)} ms ${((100 * ms) / total).toFixed(1).padStart(5)}%  ${k}`).join('\n');
}

/** The summary of one profile as text. */
export function summarise(file: string, n = 30): string {
  const profile = JSON.parse(readFileSync(file, 'utf8')) as Profile;
  const total = profile.timeDeltas.reduce((a, b) => a + b, 0) / 1000;
  const fn = (node: ProfileNode): string => `${node.callFrame.functionName || '(anonymous)'}  ${shortUrl(node.callFrame.url)}:${node.callFrame.lineNumber + 1}`;
  const byArea = tally(profile, (node) => area(node.callFrame.url, node.callFrame.functionName));
  const busy = total - (byArea.get('idle') ?? 0);
  return [
    `== ${file}: ${total.toFixed(0)} ms sampled, ${busy.toFixed(0)} ms not idle (shares below are of the total)`,
    '-- self time by area', top(byArea, total, 15),
    '-- self time by file', top(tally(profile, (node) => shortUrl(node.callFrame.url) || `(${node.callFrame.functionName})`), total, 20),
    `-- self time by function (top ${n})`, top(tally(profile, fn), total, n),
    `-- total (inclusive) time of braid functions (top ${n})`,
    top(inclusive(profile, (node) => (/\/(src|dist)\//.test(node.callFrame.url) && !node.callFrame.url.includes('node_modules') ? fn(node) : undefined)), total, n),
  ].join('\n');
}

function walk(path: string): string[] {
  if (!statSync(path).isDirectory()) return [path];
  return readdirSync(path).flatMap((name) => walk(join(path, name))).filter((f) => f.endsWith('.cpuprofile'));
}

/** Node names profiles CPU.<date>.<time>.<pid>.<thread>.<seq>.cpuprofile; thread 0 is the main thread. */
function isMainThread(file: string): boolean {
  const parts = basename(file).split('.');
  return parts.length < 7 || parts[4] === '0';
}

function main(): void {
  const { values, positionals } = parseArgs({
    allowPositionals: true,
    options: { top: { type: 'string', default: '30' }, match: { type: 'string' }, 'all-threads': { type: 'boolean', default: false } },
  });
  const files = positionals.flatMap(walk).filter((f) => values['all-threads'] || isMainThread(f));
  for (const file of files.filter((f) => values.match === undefined || f.includes(values.match)).sort()) {
    console.log(`${summarise(file, Number(values.top))}\n`);
  }
}

if (process.argv[1] && import.meta.url.endsWith(basename(process.argv[1]))) main();
