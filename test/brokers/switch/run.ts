/**
 * Runs test/brokers/switch/app.ts in this process: a worker on its queues, every workflow of the app started
 * and awaited, then one JSON line on stdout with what a user would look at (results, failures, node states
 * and attempts, errback reports) and the broker kind the app ended up on.
 */
import { WorkflowFailedError, type Canvas, type NoParent } from '../../../src/index.js';
import { alertsHeard, app, workflows } from './app.js';

const worker = app.worker({ queues: ['default', 'mail'], concurrency: 4 });
await worker.start();
const out: Record<string, unknown> = {};
for (const [id, canvas] of Object.entries(workflows())) {
  const wf = await app.start(canvas as Canvas<unknown, NoParent>, { workflowId: id });
  const outcome = await wf.result({ timeoutMs: 60_000 }).then(
    (result) => ({ result }),
    (error: unknown) => (error instanceof WorkflowFailedError ? { failed: error.failures.map((f) => `${f.nodeId} ${f.error.name}: ${f.error.message}`) } : { error: String(error) }),
  );
  const snap = await wf.status();
  out[id] = { ...outcome, state: snap.state, nodes: snap.nodes.map((n) => `${n.id} ${n.task} ${n.state} attempts=${n.attempts} queue=${n.queue}`) };
}
out.alerts = alertsHeard();
out.broker = (await app.kernel()).broker.kind;
out.store = (await app.kernel()).store.kind;
await app.close();
process.stdout.write(`${JSON.stringify(out)}\n`);
