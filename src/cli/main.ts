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

/** How long the process may linger after a command before it is ended (something still holds it open). */
const EXIT_GRACE_MS = 3_000;

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
// A failed command has reported and closed what it opened: a connection still retrying must not delay the exit.
if (code !== EXIT.ok) process.exit(code);
process.exitCode = code;
// Normally nothing is left and the process ends now; if a connection lingers, end it anyway.
setTimeout(() => {
  process.stderr.write(`braid: still open ${EXIT_GRACE_MS} ms after the command ended; exiting\n`);
  process.exit(code);
}, EXIT_GRACE_MS).unref();
