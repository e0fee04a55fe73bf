/**
 * F9 — a wide chord under duplicate deliveries and worker kills (RELIABILITY §3, inv 3), Redis store + Redis
 * broker, producer here, workers forked.
 *
 * Size: one chord of 1,000 header nodes -> 1 body (2 % of header nodes flaky), 3 workers × concurrency 8,
 * leaseMs 1,500; every header message delivered twice (a copy of each envelope published through the broker
 * right after the start); 3 worker SIGKILLs 0.3-0.8 s apart while the header runs (never once the body can
 * start), each worker replaced.
 *
 * Pass: body `starts == 1` and committed once; the body went pending -> queued exactly once (its counter never
 * went below zero nor reached zero twice); P2-P5, P7; script calls per node bounded by a constant (O(n): a
 * quadratic fan-in would cost ~1,000 per node here): at most 25 script calls (EVALSHA) per node, duplicates and
 * sweeps included; every command (inside scripts too) is reported.
 */
import { it } from 'node:test';
import assert from 'node:assert/strict';
import { requireRedis } from '../support/services.js';
import { Chord, Signature } from '../../src/canvas/values.js';
import {
  assertNoViolations, drawModes, FaultEnv, formatFigures, killLoop, prng, scenarioSeed, verify, type WorkflowPlan,
} from '../support/fault-harness.js';

const gate = await requireRedis();
const WIDTH = 1_000;
const MAX_SCRIPT_CALLS_PER_NODE = 25;

it('F9: a chord of 1,000 with every completion delivered twice and header workers killed runs its body once', { skip: gate.skip, timeout: 180_000 }, async (t) => {
  const seed = scenarioSeed();
  const rng = prng(seed);
  const env = await FaultEnv.start({ name: 'f9', workers: 3, concurrency: 8, leaseMs: 1_500 });
  try {
    const canvas = new Chord(Array.from({ length: WIDTH }, (_, i) => new Signature('f.work', [`h${i}`], false)), new Signature('f.work', ['body'], false))
      .onError(new Signature('f.eb', ['eb'], true));
    const modes = drawModes(canvas, rng, { doom: 0, flaky: 0.02, slow: 0 });
    const bodyId = `n${WIDTH}`;
    modes.set(bodyId, '');
    const plan: WorkflowPlan = { id: `${env.prefix}-chord`, shape: 'custom', canvas, modes };
    const callsBefore = await env.commandCalls();
    const [run] = await env.run([plan]);
    const duplicates = (async () => {
      for (let i = 0; i < WIDTH; i += 100) {
        await Promise.all(Array.from({ length: Math.min(100, WIDTH - i) }, (_, k) => env.publishCopy(plan.id, `n${i + k}`, 'f.work', 1)));
      }
    })();
    const headerRunning = async (): Promise<boolean> => (await env.ledger.redis.hlen(`${env.prefix}:commits`)) < WIDTH - 100;
    let stopKills = false;
    const watcher = setInterval(() => void headerRunning().then((running) => (stopKills ||= !running)), 50);
    await killLoop(env, rng, 3, 300, 800, () => stopKills);
    clearInterval(watcher);
    await duplicates;
    const faultsStoppedAt = Date.now();
    const settle = await env.settleAll([run!], faultsStoppedAt, 20_000);
    if (settle.unsettled.length > 0) {
      assert.fail(`P1 (BRAID_FAULT_SEED=${seed}): the chord is unsettled ${settle.boundMs} ms after faults stopped:\n  ${(await env.describeUnsettled(settle.unsettled)).join('\n  ').slice(0, 2_000)}`);
    }
    const callsAfter = await env.commandCalls();
    const { violations, figures } = await verify(env, [run!], { seed });
    const ledger = await env.ledger.dump();
    const bodyKey = `${plan.id}/${bodyId}`;
    if ((ledger.starts.get(bodyKey) ?? 0) !== 1) violations.push(`F9: the body started ${ledger.starts.get(bodyKey) ?? 0}× (expected once)`);
    const bodyHistory = (run!.history ?? []).filter((h) => h.node === bodyId);
    const readied = bodyHistory.filter((h) => h.from === 'pending' && h.to === 'queued').length;
    if (readied !== 1) violations.push(`F9: the body was made ready ${readied}× (its counter reached zero ${readied}×)`);
    // Script calls (store and broker) per node; every delivery, duplicate or not, costs a few, so the bound
    // is a constant: a fan-in that re-read the header on each completion would cost ~WIDTH per node.
    const scriptsPerNode = (callsAfter.scripts - callsBefore.scripts) / (WIDTH + 1);
    const commandsPerNode = (callsAfter.commands - callsBefore.commands) / (WIDTH + 1);
    if (scriptsPerNode > MAX_SCRIPT_CALLS_PER_NODE) violations.push(`F9: ${scriptsPerNode.toFixed(1)} script calls per node (> ${MAX_SCRIPT_CALLS_PER_NODE}: not O(n))`);
    t.diagnostic(formatFigures('F9', seed, figures, {
      duplicatedHeaderMessages: WIDTH, scriptCallsPerNode: Number(scriptsPerNode.toFixed(1)), redisCommandsPerNode: Number(commandsPerNode.toFixed(1)),
      settleMs: (run!.settledAt ?? 0) - run!.startedAt, logs: env.logDir,
    }));
    assertNoViolations(violations, seed, figures);
  } finally {
    await env.close();
  }
});
