/**
 * `--app <module>`: loads a JS or TS module and finds the braid App it exports (the default export, or a named
 * export `app`). A path is resolved against the working directory. TypeScript loads through tsx: when node
 * refuses the extension, tsx's loader is registered and the import tried once more.
 */
import { existsSync } from 'node:fs';
import { extname, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { App } from '../runtime/app.js';
import { CliError, EXIT, firstLine } from './errors.js';

const TYPESCRIPT = new Set(['.ts', '.mts', '.cts', '.tsx']);

/** True for a value that looks like a braid App (duck-typed: another copy of the package makes another class). */
export function isApp(value: unknown): value is App {
  if (typeof value !== 'object' || value === null) return false;
  const v = value as Record<string, unknown>;
  const registry = v.registry as { names?: unknown } | undefined;
  return ['task', 'start', 'worker', 'workflow', 'replay', 'cancel', 'close', 'kernel'].every((name) => typeof v[name] === 'function')
    && typeof registry?.names === 'function';
}

/** Imports the module at `specifier` (relative to `cwd`) and returns its app. */
export async function loadApp(specifier: string, cwd = process.cwd()): Promise<App> {
  const path = resolve(cwd, specifier);
  if (!existsSync(path)) throw new CliError(EXIT.usage, `cannot find the app module ${specifier} (looked for ${path})`);
  let module: Record<string, unknown>;
  try {
    module = await importFile(path);
  } catch (error) {
    if (error instanceof CliError) throw error;
    throw new CliError(EXIT.usage, `cannot load the app module ${specifier}: ${firstLine(messageOf(error))}`, { cause: error });
  }
  const fallback = module.default as Record<string, unknown> | undefined;
  for (const candidate of [module.default, module.app, fallback?.app]) if (isApp(candidate)) return candidate;
  const names = Object.keys(module);
  throw new CliError(
    EXIT.usage,
    `${specifier} does not export a braid app: export it as the default export or as \`app\` (its exports: ${names.length > 0 ? names.join(', ') : 'none'})`,
  );
}

async function importFile(path: string): Promise<Record<string, unknown>> {
  const url = pathToFileURL(path).href;
  try {
    return (await import(url)) as Record<string, unknown>;
  } catch (error) {
    if ((error as { code?: unknown }).code !== 'ERR_UNKNOWN_FILE_EXTENSION' || !TYPESCRIPT.has(extname(path))) throw error;
  }
  try {
    const tsx = (await import('tsx/esm/api')) as { register: () => unknown };
    tsx.register();
  } catch {
    throw new CliError(EXIT.usage, `cannot load ${path}: TypeScript needs tsx (npm install --save-dev tsx), or compile the module to JavaScript`);
  }
  return (await import(url)) as Record<string, unknown>;
}

function messageOf(error: unknown): string {
  return error instanceof Error ? `${error.name}: ${error.message}` : String(error);
}
