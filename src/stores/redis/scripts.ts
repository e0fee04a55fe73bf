/**
 * Loads the Lua scripts (./lua/*.lua) and registers them with ioredis `defineCommand` under versioned names
 * (`braid_v1_complete`, ...), so two releases can share one server (STYLE "Persistence"). Each per-workflow
 * script is the generated prelude + lib.lua + advance.lua + its own file. The prelude serialises the
 * transition tables derived from the xstate machines (src/runtime/machines.ts) and the reply codes
 * (codes.ts) into Lua table literals, so the machines stay the single source of truth for what Lua allows.
 *
 * Packaging: the .lua files are read beside this module; `npm run build` copies them into dist
 * (scripts/copy-assets.mjs).
 */
import { readFileSync } from 'node:fs';
import type { Redis } from 'ioredis';
import { FINAL_NODE_STATES, NODE_TRANSITIONS, WORKFLOW_TRANSITIONS } from '../../runtime/machines.js';
import { CODE, scriptError, type Reply } from './codes.js';
import { retryAborted } from './connection.js';

/** Version in every command name; bump it whenever a script's KEYS, ARGV or reply changes. */
export const SCRIPT_VERSION = 1;

/** The per-workflow scripts: one per transition, plus the sweep of one workflow. */
export const WORKFLOW_SCRIPTS = ['create', 'claim', 'renew', 'complete', 'fail', 'retry', 'replace', 'cancel', 'replay', 'sweep'] as const;

/** The name of a per-workflow script. */
export type WorkflowScript = (typeof WORKFLOW_SCRIPTS)[number];

/** Number of KEYS every per-workflow script takes (keys.ts WORKFLOW_KEY_SUFFIXES). */
export const WORKFLOW_KEY_COUNT = 15;

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

/** The generated head of every per-workflow script: machine tables, final states and reply codes. */
export function prelude(): string {
  const final = Object.fromEntries([...FINAL_NODE_STATES].map((state) => [state, true]));
  return [
    '-- generated at load from src/runtime/machines.ts (NODE_TRANSITIONS, WORKFLOW_TRANSITIONS, FINAL_NODE_STATES)',
    '-- and src/stores/redis/codes.ts (CODE): NODE_T[state][event] is the next state, nil where the machine refuses.',
    `local NODE_T = ${luaLiteral(NODE_TRANSITIONS)}`,
    `local WF_T = ${luaLiteral(WORKFLOW_TRANSITIONS)}`,
    `local FINAL = ${luaLiteral(final)}`,
    `local CODE = ${luaLiteral(CODE)}`,
  ].join('\n');
}

const LUA_DIR = new URL('./lua/', import.meta.url);

function readLua(name: string): string {
  return readFileSync(new URL(`${name}.lua`, LUA_DIR), 'utf8');
}

/** The full source of a per-workflow script as it is sent to Redis. */
export function workflowScriptSource(name: WorkflowScript): string {
  return [prelude(), readLua('lib'), readLua('advance'), readLua(name)].join('\n');
}

/** The versioned command name of a script. */
export function commandName(name: WorkflowScript | 'unindex'): string {
  return `braid_v${SCRIPT_VERSION}_${name}`;
}

type ScriptFn = (keys: string[], args: Array<string | number>) => Promise<Reply>;

/** The scripts registered on one ioredis client. */
export class Scripts {
  constructor(private readonly client: Redis) {
    for (const name of WORKFLOW_SCRIPTS) {
      if (!this.fn(name)) client.defineCommand(commandName(name), { numberOfKeys: WORKFLOW_KEY_COUNT, lua: workflowScriptSource(name) });
    }
    if (!this.fn('unindex')) client.defineCommand(commandName('unindex'), { numberOfKeys: 1, lua: readLua('unindex') });
  }

  /**
   * Runs a script (EVALSHA, falling back to EVAL after a server restart), again when a cut pipeline aborted it
   * (scripts are idempotent). Illegal transitions become IllegalTransition.
   */
  async run(name: WorkflowScript | 'unindex', keys: string[], args: Array<string | number>): Promise<Reply> {
    const fn = this.fn(name);
    if (!fn) throw new Error(`braid redis store: script ${name} is not defined`);
    try {
      return await retryAborted(() => fn.call(this.client, keys, args));
    } catch (error) {
      throw scriptError(error);
    }
  }

  private fn(name: WorkflowScript | 'unindex'): ScriptFn | undefined {
    return (this.client as unknown as Record<string, ScriptFn | undefined>)[commandName(name)];
  }
}
