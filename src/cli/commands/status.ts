/**
 * `braid status <id>`: the workflow and every node, as a list (or the raw snapshot with `--json`).
 */
import { Command } from 'commander';
import { Style } from '../render/style.js';
import { renderHeading, renderTree, shorten } from '../render/tree.js';
import { assertWorkflowId } from '../../runtime/ids.js';
import { withConnection, withSession, type ConnectionFlags } from '../session.js';

/** The `status` command. */
export function statusCommand(): Command {
  return withConnection(new Command('status'), 'optional')
    .description('show a workflow and every node: state, attempts, result or error')
    .argument('<id>', 'workflow id')
    .option('--json', 'print the snapshot as JSON')
    .action(async (id: string, flags: ConnectionFlags & { json?: boolean }) => {
      assertWorkflowId(id);
      await withSession(flags, { broker: false }, async ({ app }) => {
        const snapshot = await app.workflow(id).status();
        if (flags.json) {
          process.stdout.write(`${JSON.stringify(snapshot, null, 2)}\n`);
          return;
        }
        const style = Style.for(process.stdout);
        const lines = [renderHeading(snapshot, style), ...renderTree(snapshot, style)];
        const created = new Date(snapshot.createdAt).toISOString();
        const settled = snapshot.settledAt === undefined ? '' : `, settled ${new Date(snapshot.settledAt).toISOString()}`;
        lines.push(style.paint('dim', `  created ${created}${settled}`));
        if (snapshot.result !== undefined) lines.push(`  result ${shorten(JSON.stringify(snapshot.result), 200)}`);
        process.stdout.write(`${lines.join('\n')}\n`);
      });
    });
}
