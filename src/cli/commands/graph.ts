/**
 * `braid graph <id>`: the workflow as a Mermaid flowchart (default) or a Graphviz DOT graph, nodes styled by
 * state. Paste the Mermaid into a Markdown file or https://mermaid.live; pipe the DOT into `dot -Tsvg`.
 */
import { Command, Option } from 'commander';
import { toDot, toMermaid } from '../../runtime/render.js';
import { assertWorkflowId } from '../../runtime/ids.js';
import { withConnection, withSession, type ConnectionFlags } from '../session.js';

/** The `graph` command. */
export function graphCommand(): Command {
  return withConnection(new Command('graph'), 'optional')
    .description('print a workflow as a Mermaid flowchart or a Graphviz DOT graph')
    .argument('<id>', 'workflow id')
    .addOption(new Option('--format <format>', 'output format').choices(['mermaid', 'dot']).default('mermaid'))
    .action(async (id: string, flags: ConnectionFlags & { format: 'mermaid' | 'dot' }) => {
      assertWorkflowId(id);
      await withSession(flags, { broker: false }, async ({ app }) => {
        const snapshot = await app.workflow(id).status();
        process.stdout.write(flags.format === 'dot' ? toDot(snapshot) : toMermaid(snapshot));
      });
    });
}
