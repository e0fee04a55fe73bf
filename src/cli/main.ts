#!/usr/bin/env node
/**
 * The `braid` command line: `demo`, `worker`, `status`, `graph`, `replay`, `cancel`. Every failure is one
 * line on stderr and an exit code from {@link EXIT}; `BRAID_DEBUG=1` adds the stack.
 */
import { createRequire } from 'node:module';
import { Command, CommanderError } from 'commander';
import { cancelCommand } from './commands/cancel.js';
import { demoCommand } from './commands/demo.js';
import { graphCommand } from './commands/graph.js';
import { replayCommand } from './commands/replay.js';
import { statusCommand } from './commands/status.js';
import { workerCommand } from './commands/worker.js';
import { EXIT, explain } from './errors.js';

const { version } = createRequire(import.meta.url)('../../package.json') as { version: string };

function program(): Command {
  const root = new Command('braid')
    .description('braid: Celery-style workflows (chain, group, chord) as persisted graphs')
    .version(version)
    .showHelpAfterError('(run braid <command> --help for usage)')
    .addHelpText('after', `
Connection URLs: --broker / --store / --prefix, or BRAID_BROKER_URL / BRAID_STORE_URL / BRAID_PREFIX.
Exit codes: 0 ok, 1 failed, 2 bad usage or configuration, 3 unknown workflow or state refused, 4 server unreachable.`)
    .exitOverride();
  for (const command of [demoCommand(), workerCommand(), statusCommand(), graphCommand(), replayCommand(), cancelCommand()]) {
    root.addCommand(command.exitOverride());
  }
  return root;
}

async function main(argv: string[]): Promise<number> {
  try {
    await program().parseAsync(argv);
    return EXIT.ok;
  } catch (error) {
    if (error instanceof CommanderError) return error.exitCode === 0 ? EXIT.ok : EXIT.usage;
    const { message, exitCode } = explain(error);
    process.stderr.write(`braid: ${message}\n`);
    if (process.env.BRAID_DEBUG === '1' && error instanceof Error && error.stack) process.stderr.write(`${error.stack}\n`);
    return exitCode;
  }
}

const code = await main(process.argv);
// Every command has closed what it opened by now (withSession; the worker its app). The process still ends as
// soon as its output is written rather than when the event loop empties: a library may keep a timer of its own
// running a while, as ioredis' parser does for up to about two seconds after any reply over 64 KiB (its buffer
// pool shrinks on a 50 ms interval it never unrefs), which held `braid status` of a 20,000-node workflow open
// 1.5 s after it had printed. Whether close() releases every connection and timer is tested on the app itself
// (test/semantics/lifecycle.test.ts).
exitWhenWritten(code);

/** Exits with `code` once what was written to stdout and stderr has been handed to the OS. */
function exitWhenWritten(exitCode: number): void {
  let pending = 2;
  const done = (): void => {
    pending -= 1;
    if (pending === 0) process.exit(exitCode);
  };
  process.stdout.write('', done);
  process.stderr.write('', done);
}
