/**
 * `braid cancel <id>`: queued nodes never run, running nodes see `ctx.signal` aborted, the workflow settles
 * `canceled`. Canceling a workflow that has already settled changes nothing and says so.
 */
import { Command } from 'commander';
import { assertWorkflowId } from '../../runtime/ids.js';
import { withConnection, withSession, type ConnectionFlags } from '../session.js';

/** The `cancel` command. */
export function cancelCommand(): Command {
  return withConnection(new Command('cancel'), 'optional')
    .description('cancel a running workflow')
    .argument('<id>', 'workflow id')
    .action(async (id: string, flags: ConnectionFlags) => {
      assertWorkflowId(id);
      await withSession(flags, { broker: false }, async ({ app }) => {
        const before = await app.workflow(id).status();
        if (before.state !== 'running') {
          process.stdout.write(`workflow ${id} had already settled (${before.state}); nothing to cancel\n`);
          return;
        }
        await app.cancel(id);
        const after = await app.workflow(id).status();
        process.stdout.write(`workflow ${id} is ${after.state}\n`);
      });
    });
}
