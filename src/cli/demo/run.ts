/**
 * `braid demo`: starts the order pipeline on the embedded default with a worker in this process, shows the
 * graph as it runs, the failure, the fix and replay (only what failed re-runs), the result and the Mermaid
 * graph. About six seconds; exits on its own once `app.close()` has released everything.
 */
import { pino } from 'pino';
import { WorkflowFailedError } from '../../core/errors.js';
import type { WorkflowSnapshot } from '../../core/snapshot.js';
import { toMermaid } from '../../runtime/render.js';
import { follow, LiveView, type Output } from '../render/live.js';
import { Style } from '../render/style.js';
import { buildPipeline, CANVAS_SOURCE, ORDER, Services } from './pipeline.js';

const WORKFLOW_ID = `order-${ORDER.id}`;

/** Runs the demo, writing to `out`. Resolves once the app is closed. */
export async function runDemo(out: Output = process.stdout): Promise<void> {
  const style = Style.for(out);
  const say = (text = ''): void => void out.write(`${text}\n`);
  const heading = (text: string): void => say(`\n${style.paint('bold', `▶ ${text}`)}`);
  const services = new Services();
  const logger = pino({ level: process.env.BRAID_LOG_LEVEL ?? 'silent' }, pino.destination(2));
  const { app, canvas } = buildPipeline(services, logger);
  const worker = app.worker({ queues: ['default'], concurrency: 8 });

  try {
    say(style.paint('bold', 'braid demo: an order pipeline, run as a persisted graph'));
    say(style.paint('dim', 'Embedded default: memory:// broker and store, one worker in this process. In production the'));
    say(style.paint('dim', 'same code runs on redis:// or amqp:// with workers on other machines.'));
    say();
    say(`  app.start(${CANVAS_SOURCE}, { workflowId: '${WORKFLOW_ID}' })`);
    await worker.start();

    heading('run: watch the nodes advance (the list is wf.status(), polled)');
    say(style.paint('dim', '  ○ pending  ◔ queued  ● running  ↻ retrying  ✓ succeeded  ✗ failed  ⊘ blocked; ┌│└ run in parallel'));
    const wf = await app.start(canvas, { workflowId: WORKFLOW_ID });
    const view = new LiveView(out, style);
    const failedRun = await follow(wf, view);
    if (!out.isTTY) view.print(failedRun);

    heading('failure: await wf.result() rejects');
    const failure = await wf.result().then(() => undefined, (error: unknown) => error);
    if (!(failure instanceof WorkflowFailedError)) throw new Error(`the demo expected its first run to fail, got ${String(failure)}`);
    say(`  ${style.paint('red', `WorkflowFailedError: ${failure.message}`)}`);
    for (const f of failure.failures) say(`    failures: ${f.task} (${f.nodeId}) ${f.error.name}: ${f.error.message}`);
    explainFailure(failedRun, services, say, style);

    heading('fix: the gift-wrap service is back; app.replay(id) re-runs only what failed');
    services.giftWrapUp = true;
    const runsBefore = new Map(services.runs);
    const replayed = await app.replay(WORKFLOW_ID);
    view.detach();
    const done = await follow(replayed, view);
    if (!out.isTTY) view.print(done);
    const rerun = done.nodes.filter((n) => (services.runs.get(n.id) ?? 0) > (runsBefore.get(n.id) ?? 0));
    const kept = done.nodes.filter((n) => n.kind === 'task' && !rerun.includes(n));
    say(`  re-ran: ${rerun.map((n) => `${n.task} (${n.id})`).join(', ')}`);
    say(`  kept, not run again: ${kept.map((n) => n.id).join(', ')} (their results were stored)`);

    heading('result: await wf.result()');
    say(`  ${style.paint('green', JSON.stringify(await replayed.result()))}`);

    heading('graph: toMermaid(await wf.status())   (also: braid graph <id> --format mermaid|dot)');
    out.write(toMermaid(await replayed.status()));

    say();
    say(style.paint('dim', 'Next: README.md (five-minute tour), docs/canvas.md, docs/failure-and-replay.md. Source of this demo: src/cli/demo/.'));
  } finally {
    await app.close();
  }
}

function explainFailure(snapshot: WorkflowSnapshot, services: Services, say: (text?: string) => void, style: Style): void {
  const blocked = snapshot.nodes.filter((n) => n.state === 'blocked');
  const succeeded = snapshot.nodes.filter((n) => n.kind === 'task' && n.state === 'succeeded');
  const charge = snapshot.nodes.find((n) => n.task === 'payments.charge');
  say(`  ${style.state('blocked', `blocked: ${blocked.map((n) => `${n.task} (${n.id})`).join(', ')}: it needs the failed node's result, so it never ran`)}`);
  say(`  ${style.state('succeeded', `kept: ${succeeded.length} succeeded nodes, siblings of the failure included (shipping.ship)`)}`);
  say(`  errback: ops.alert ran once: ${services.alerts.join('; ')}`);
  if (charge) {
    say(`  payments.charge: ${charge.attempts} attempts (GatewayTimeout, retried with backoff), ${services.charges.size} charge at the gateway`);
    say(`    thanks to ctx.idempotencyKey ${WORKFLOW_ID}/${charge.id}: braid runs a task at least once; the key makes its effect once`);
  }
}
