/**
 * `braid demo` (also `npm run demo`): a sample order pipeline on the embedded default, shown as it runs.
 */
import { Command } from 'commander';
import { runDemo } from '../demo/run.js';

/** The `demo` command. */
export function demoCommand(): Command {
  return new Command('demo')
    .description('run a sample order pipeline in this process (no servers needed) and show its graph as it runs')
    .action(async () => {
      await runDemo();
    });
}
