/**
 * The source of the store's Redis function library (Redis >= 7.0 `FUNCTION LOAD`), generated at load from the
 * Lua files in ./lua and from the machines:
 *
 *   #!lua name=braid_store_v1_<8 hex>
 *   prelude      NODE_T, WF_T, FINAL (src/runtime/machines.ts), CODE (codes.ts), REPUBLISH_BACKOFF_LIMIT
 *                (src/runtime/step/sweep.ts), SETTLED_RESULT_MAX_BYTES (events.ts) and CANCEL_STEP_NODES as Lua
 *                literals; withDefaults and packWithoutDefaults from RECORD_DEFAULTS (node-record.ts)
 *   lib.lua      state, records, moves, begin(): the per-call reset, batch(): several workflows per call
 *   compact.lua  the compact layout of one-node workflows: create, claim, complete in place; inflate()
 *   advance.lua  how completions spread, the write-back (flush, finish)
 *   per single script: `RUN.<script> = function(ARGV) <the file> end` and a registered function
 *                `begin(KEYS[1], ARGV); return RUN.<script>(ARGV)` (KEYS[1]: the workflow's `wf` key), with
 *                `inflate()` after `begin` for the scripts of {@link INFLATE_FIRST}
 *   per batch script (`*_many`): a registered function whose body is the file (it calls `batch`)
 *
 * The module level (tables, ~40 helper closures) runs once, at load; each call runs only its own function.
 * The library name carries {@link LIBRARY_VERSION} and a hash of the generated source, so two releases or two
 * builds load side by side on one server and never replace each other's library.
 *
 * Packaging: the .lua files are read beside this module; `npm run build` copies them into dist
 * (scripts/copy-assets.mjs).
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { FINAL_NODE_STATES, NODE_TRANSITIONS, WORKFLOW_TRANSITIONS } from '../../runtime/machines.js';
import { REPUBLISH_BACKOFF_LIMIT } from '../../runtime/step/sweep.js';
import { CODE } from './codes.js';
import { SETTLED_RESULT_MAX_BYTES } from './events.js';
import { RECORD_DEFAULTS } from './node-record.js';

/** Version in the library name; bump it whenever a script's KEYS, ARGV or reply changes. */
export const LIBRARY_VERSION = 8;

/**
 * Most nodes one `cancel` call moves (a larger workflow is canceled in steps: lua/advance.lua cancelNodes), and the
 * step a sweep takes of a cancel left half done. About 70 ms of Redis per step.
 */
export const DEFAULT_CANCEL_CHUNK_NODES = 5_000;

/** The per-workflow scripts: one per transition, plus the sweep of one workflow and of several of one slot. */
export const WORKFLOW_SCRIPTS = [
  'create', 'create_many', 'stage', 'claim', 'claim_many', 'renew', 'complete', 'complete_many', 'fail', 'retry', 'replace', 'release', 'cancel',
  'replay', 'sweep', 'sweep_many',
] as const;

/** The batch scripts: several workflows of one slot per call (lib.lua `batch`, slot-batches.ts; sweeper.ts). */
export const BATCH_SCRIPTS: ReadonlySet<WorkflowScript> = new Set(['create_many', 'claim_many', 'complete_many', 'sweep_many']);

/**
 * The scripts that turn a workflow in the compact one-node layout (compact.lua) into the general one before
 * they run; create, claim and complete work on it in place, and sweep inflates only when it must act.
 */
export const INFLATE_FIRST: ReadonlySet<WorkflowScript> = new Set(['renew', 'fail', 'retry', 'replace', 'release', 'cancel', 'replay']);

/** The name of a per-workflow script. */
export type WorkflowScript = (typeof WORKFLOW_SCRIPTS)[number];

/** Any function of the library: the per-workflow scripts and `unindex` (the global index). */
export type ScriptName = WorkflowScript | 'unindex';


const LUA_NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;

/** A Lua table literal of plain data (names, numbers, booleans, nested tables with name keys). */
export function luaLiteral(value: unknown): string {
  if (typeof value === 'number' && Number.isFinite(value)) return String(value);
  if (typeof value === 'boolean') return String(value);
  if (typeof value === 'string' && LUA_NAME.test(value)) return `'${value}'`;
  if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    const fields = Object.entries(value).map(([key, v]) => {
      if (!LUA_NAME.test(key)) throw new Error(`luaLiteral: unsupported key ${JSON.stringify(key)}`);
      return `${key} = ${luaLiteral(v)}`;
    });
    return `{ ${fields.join(', ')} }`;
  }
  throw new Error(`luaLiteral: unsupported value ${JSON.stringify(value)}`);
}

/** The generated head of the library: machine tables, final states and reply codes. */
export function prelude(): string {
  const final = Object.fromEntries([...FINAL_NODE_STATES].map((state) => [state, true]));
  return [
    '-- generated at load from src/runtime/machines.ts (NODE_TRANSITIONS, WORKFLOW_TRANSITIONS, FINAL_NODE_STATES)',
    '-- and src/stores/redis/codes.ts (CODE): NODE_T[state][event] is the next state, nil where the machine refuses.',
    `local NODE_T = ${luaLiteral(NODE_TRANSITIONS)}`,
    `local WF_T = ${luaLiteral(WORKFLOW_TRANSITIONS)}`,
    `local FINAL = ${luaLiteral(final)}`,
    `local CODE = ${luaLiteral(CODE)}`,
    `local REPUBLISH_BACKOFF_LIMIT = ${luaLiteral(REPUBLISH_BACKOFF_LIMIT)} -- src/runtime/step/sweep.ts`,
    `local SETTLED_RESULT_MAX_BYTES = ${luaLiteral(SETTLED_RESULT_MAX_BYTES)} -- events.ts`,
    `local CANCEL_STEP_NODES = ${luaLiteral(DEFAULT_CANCEL_CHUNK_NODES)} -- library.ts DEFAULT_CANCEL_CHUNK_NODES`,
    recordDefaultsLua(),
  ].join('\n');
}

/**
 * The Lua of `withDefaults(rec)`, which fills in the fields a stored record leaves out at their default
 * (RECORD_DEFAULTS, node-record.ts; `e` as a shared empty list that no script changes), and of
 * `packWithoutDefaults(rec)`, the MessagePack text of `rec` without them (`rec` is left as it was). Unrolled per
 * field: a loop over a table of defaults cost about as much as the smaller decode saved.
 */
export function recordDefaultsLua(): string {
  const entries = Object.entries(RECORD_DEFAULTS).map(([field, value]) => [field, luaLiteral(value)] as const);
  const fields = entries.map(([field]) => `rec.${field}`).join(', ');
  const saved = entries.map(([field]) => `d_${field}`).join(', ');
  return [
    '-- generated at load from RECORD_DEFAULTS (src/stores/redis/node-record.ts): the fields a record leaves out at their default',
    'local NO_ERRBACKS = {}',
    'local function withDefaults(rec)',
    ...entries.map(([field, lua]) => `  if rec.${field} == nil then rec.${field} = ${lua} end`),
    '  if rec.e == nil then rec.e = NO_ERRBACKS end',
    '  return rec',
    'end',
    'local function packWithoutDefaults(rec)',
    `  local ${saved}, d_e = ${fields}, rec.e`,
    ...entries.map(([field, lua]) => `  if d_${field} == ${lua} then rec.${field} = nil end`),
    '  if d_e ~= nil and next(d_e) == nil then rec.e = nil end',
    '  local text = cmsgpack.pack(rec)',
    `  ${fields}, rec.e = ${saved}, d_e`,
    '  return text',
    'end',
  ].join('\n');
}

const LUA_DIR = new URL('./lua/', import.meta.url);

/** The text of one file of ./lua. */
export function readLua(name: string): string {
  return readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
}

/** The store's function library: its name, its code for FUNCTION LOAD, and the name of each function. */
export interface Library {
  /** `braid_store_v<version>_<8 hex of the source>`. */
  name: string;
  code: string;
  /** The registered function of a script: `<library name>_<script>`. */
  functionName(script: ScriptName): string;
}

const NAME_MARK = '__BRAID_LIBRARY__';

/** The scripts whose batches have a quick way (compact.lua), which their single calls take first too (lib.lua `single`). */
const QUICK_WAYS: Partial<Record<WorkflowScript, string>> = { create: 'quickCreate', claim: 'quickClaim', complete: 'quickComplete' };

function registered(script: ScriptName): string {
  const body = readLua(script).trimEnd();
  const register = (inner: string[]): string[] => [`redis.register_function('${NAME_MARK}_${script}', function(KEYS, ARGV)`, ...inner, 'end)'];
  if (script === 'unindex' || BATCH_SCRIPTS.has(script)) return register([body]).join('\n');
  const quick = QUICK_WAYS[script];
  const entry = quick !== undefined
    ? [`return single(KEYS[1], ARGV, ${quick}, RUN.${script})`]
    : ['begin(KEYS[1], ARGV)', ...(INFLATE_FIRST.has(script) ? ['inflate()'] : []), `return RUN.${script}(ARGV)`];
  return [`RUN.${script} = function(ARGV)`, body, 'end', ...register(entry)].join('\n');
}

/** Builds the library from the machines and ./lua (the same source gives the same name). */
export function buildLibrary(): Library {
  const body = [
    prelude(), readLua('lib'), readLua('compact'), readLua('advance'),
    ...WORKFLOW_SCRIPTS.map(registered),
    registered('unindex'),
  ].join('\n');
  const hash = createHash('sha1').update(body).digest('hex').slice(0, 8);
  const name = `braid_store_v${LIBRARY_VERSION}_${hash}`;
  return {
    name,
    code: `#!lua name=${name}\n${body.replaceAll(NAME_MARK, name)}`,
    functionName: (script) => `${name}_${script}`,
  };
}
