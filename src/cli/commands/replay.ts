/**
 * `braid replay <id>`: re-runs the failed, blocked and canceled nodes of a failed or canceled workflow (or the
 * given nodes and everything downstream of them). Succeeded results are kept and not re-run. Workers of the
 * app's queues must be running for the replayed nodes to run.
 */
import { Command } from 'commander';
import { CliError, EXIT } from '../errors.js';
import { assertWorkflowId } from '../../runtime/ids.js';
import { withConnection, withSession, type ConnectionFlags } from '../session.js';
import type { NodeSnapshot } from '../../core/snapshot.js';

/** Node ids named on the replay line; past this many, the line counts the rest. */
export const LISTED_NODES = 10;

/**
 * The replayed nodes as `id (task)`, the first {@link LISTED_NODES} of them and a count of the others (a
 * canceled 100,000-node chord replays all but what finished).
 */
export function nodeList(chosen: readonly string[], nodes: readonly NodeSnapshot[]): string {
  const tasks = new Map(nodes.map((n) => [n.id, n.task]));
  const named = chosen.slice(0, LISTED_NODES).map((nodeId) => `${nodeId} (${tasks.get(nodeId) ?? '?'})`).join(', ');
  const rest = chosen.length - LISTED_NODES;
  return rest > 0 ? `${named} and ${rest.toLocaleString('en-US')} more` : named;
}

/** The `replay` command. */
export function replayCommand(): Command {
  return withConnection(new Command('replay'), 'optional')
    .description('re-run what failed in a failed or canceled workflow, keeping every succeeded result')
    .argument('<id>', 'workflow id')
    .option('--nodes <ids>', 'comma-separated node ids to re-run (with everything downstream); default: failed, blocked and canceled nodes')
    .option('--wait', 'wait for the workflow to settle and print its result')
    .action(async (id: string, flags: ConnectionFlags & { nodes?: string; wait?: boolean }) => {
      assertWorkflowId(id);
      const nodes = flags.nodes?.split(',').map((n) => n.trim()).filter((n) => n !== '');
      if (nodes !== undefined && nodes.length === 0) throw new CliError(EXIT.usage, '--nodes needs at least one node id');
      await withSession(flags, { broker: true }, async ({ app }) => {
        const before = await app.workflow(id).status();
        const handle = await app.replay(id, nodes ? { nodes } : {});
        const chosen = nodes ?? before.nodes
          .filter((n) => n.kind === 'task' && (n.state === 'failed' || n.state === 'blocked' || n.state === 'canceled'))
          .map((n) => n.id);
        process.stdout.write(`replaying workflow ${id}: ${nodeList(chosen, before.nodes)}${nodes ? ' and everything downstream' : ''}\n`);
        if (!flags.wait) return;
        const result = await handle.result();
        process.stdout.write(`${JSON.stringify(result)}\n`);
      });
    });
}
