/**
 * Runs the `braid` command line in a child process (through tsx, as `npm run demo` does), with stdout and
 * stderr piped: not a TTY, so output is plain text. The connection variables of the calling environment are
 * removed so each test says exactly which URLs it uses.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { fileURLToPath } from 'node:url';

/** The repository root. */
export const ROOT = fileURLToPath(new URL('../../', import.meta.url));
const MAIN = fileURLToPath(new URL('../../src/cli/main.ts', import.meta.url));

/** What a finished command left. */
export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/** Starts `braid ...args`; collect its output with {@link finished}. */
export function startCli(args: string[], env: Record<string, string> = {}): ChildProcess & { output: { stdout: string; stderr: string } } {
  const base = { ...process.env };
  for (const name of ['BRAID_BROKER_URL', 'BRAID_STORE_URL', 'BRAID_PREFIX', 'BRAID_DEBUG']) delete base[name];
  const child = spawn(process.execPath, ['--import', 'tsx', MAIN, ...args], {
    cwd: ROOT, env: { ...base, BRAID_LOG_LEVEL: 'warn', ...env }, stdio: ['ignore', 'pipe', 'pipe'],
  }) as ChildProcess & { output: { stdout: string; stderr: string } };
  child.output = { stdout: '', stderr: '' };
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => (child.output.stdout += chunk));
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (child.output.stderr += chunk));
  return child;
}

/** Resolves when the child has exited and its output is read. */
export async function finished(child: ReturnType<typeof startCli>): Promise<CliRun> {
  const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
    if (child.exitCode !== null || child.signalCode !== null) resolve([child.exitCode, child.signalCode]);
    else child.once('close', (c, s) => resolve([c, s]));
  });
  return { code, signal, ...child.output };
}

/** Runs `braid ...args` to the end. */
export async function runCli(args: string[], env: Record<string, string> = {}): Promise<CliRun> {
  return finished(startCli(args, env));
}

/** Resolves once the child's stderr or stdout matches `pattern`; rejects if it exits first. */
export async function waitForOutput(child: ReturnType<typeof startCli>, pattern: RegExp): Promise<void> {
  await new Promise<void>((resolve, reject) => {
    const check = (): void => {
      if (pattern.test(child.output.stderr) || pattern.test(child.output.stdout)) {
        cleanup();
        resolve();
      }
    };
    const exited = (): void => {
      cleanup();
      reject(new Error(`braid exited before printing ${pattern}: ${child.output.stderr}`));
    };
    const cleanup = (): void => {
      child.stdout!.off('data', check);
      child.stderr!.off('data', check);
      child.off('exit', exited);
    };
    child.stdout!.on('data', check);
    child.stderr!.on('data', check);
    child.once('exit', exited);
    check();
  });
}
