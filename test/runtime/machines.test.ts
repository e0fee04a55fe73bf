/**
 * The lifecycle machines: the transition tables the stores use equal the xstate machines (checked through
 * `snapshot.can` and a running actor, not the derivation that built them), move() refuses what they refuse,
 * and the memory store refuses through its API every transition the node machine refuses (DESIGN inv 1).
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { createActor, type AnyStateMachine } from 'xstate';
import {
  FINAL_NODE_STATES, NODE_EVENTS, NODE_STATES, NODE_TRANSITIONS, WORKFLOW_EVENTS, WORKFLOW_STATES, WORKFLOW_TRANSITIONS,
  nextNodeState, nextWorkflowState, nodeMachine, nodeStatesAccepting, workflowMachine,
} from '../../src/runtime/machines.js';
import { createRecord } from '../../src/runtime/step/create.js';
import { IllegalTransition, move } from '../../src/runtime/step/record.js';
import { sig } from '../../src/canvas/builders.js';
import { storedGraph } from '../contracts/store/harness.js';
import { storeRefusalContract } from '../contracts/refusal.contract.js';
import { memoryStoreFactory } from '../support/memory-factory.js';

function checkTable(machine: AnyStateMachine, states: readonly string[], events: readonly string[], table: Readonly<Record<string, Readonly<Partial<Record<string, string>>>>>): void {
  assert.deepEqual(Object.keys(machine.root.states).sort(), [...states].sort(), 'the table lists every state of the machine');
  assert.deepEqual([...machine.events].sort(), [...events].sort(), 'the table lists every event of the machine');
  assert.deepEqual(Object.keys(table).sort(), [...states].sort());
  for (const state of states) {
    for (const event of events) {
      const snapshot = machine.resolveState({ value: state, context: {} });
      const can = snapshot.can({ type: event });
      assert.equal(table[state]![event] !== undefined, can, `${state} x ${event}: table and snapshot.can disagree`);
      const actor = createActor(machine, { snapshot }).start();
      actor.send({ type: event });
      const landed = actor.getSnapshot().value as string;
      actor.stop();
      assert.equal(landed, table[state]![event] ?? state, `${state} x ${event}: the actor landed in ${landed}`);
    }
  }
}

describe('machines', () => {
  test('node transition table equals the node machine', () => {
    checkTable(nodeMachine, NODE_STATES, NODE_EVENTS, NODE_TRANSITIONS);
  });

  test('workflow transition table equals the workflow machine', () => {
    checkTable(workflowMachine, WORKFLOW_STATES, WORKFLOW_EVENTS, WORKFLOW_TRANSITIONS);
  });

  test('initial states', () => {
    assert.equal(createActor(nodeMachine).getSnapshot().value, 'pending');
    assert.equal(createActor(workflowMachine).getSnapshot().value, 'running');
  });

  test('tables are frozen', () => {
    assert.ok(Object.isFrozen(NODE_TRANSITIONS));
    assert.ok(Object.isFrozen(WORKFLOW_TRANSITIONS));
    for (const s of NODE_STATES) assert.ok(Object.isFrozen(NODE_TRANSITIONS[s]));
    assert.throws(() => { (NODE_TRANSITIONS.succeeded as Record<string, string>).SUCCEED = 'succeeded'; });
  });

  test('final states leave only by replay; a succeeded workflow never moves', () => {
    for (const s of NODE_STATES) {
      const exits = Object.keys(NODE_TRANSITIONS[s]);
      const onlyReplay = exits.every((e) => e === 'REPLAY' || e === 'REPLAY_WAIT');
      assert.equal(FINAL_NODE_STATES.has(s), onlyReplay, `${s}: exits ${exits.join(',')}`);
    }
    assert.deepEqual(WORKFLOW_TRANSITIONS.succeeded, {});
  });

  test('helpers read the tables', () => {
    for (const s of NODE_STATES) for (const e of NODE_EVENTS) assert.equal(nextNodeState(s, e), NODE_TRANSITIONS[s][e]);
    for (const s of WORKFLOW_STATES) for (const e of WORKFLOW_EVENTS) assert.equal(nextWorkflowState(s, e), WORKFLOW_TRANSITIONS[s][e]);
    assert.deepEqual(nodeStatesAccepting('CLAIM'), ['queued', 'retrying']);
    assert.deepEqual(nodeStatesAccepting('CANCEL'), ['pending', 'queued', 'running', 'retrying', 'waiting']);
    assert.deepEqual(nodeStatesAccepting('REPLAY_WAIT'), ['succeeded', 'failed', 'canceled']);
  });

  test('move() applies exactly the legal transitions and throws IllegalTransition for every other', () => {
    for (const from of NODE_STATES) {
      for (const event of NODE_EVENTS) {
        const { record } = createRecord('wf', storedGraph(sig('a')), 0, true);
        const node = record.nodes.get('n0')!;
        node.state = from;
        const to = NODE_TRANSITIONS[from][event];
        if (to === undefined) {
          assert.throws(() => move(record, node, event), IllegalTransition, `${from} x ${event}`);
          assert.equal(node.state, from);
        } else {
          move(record, node, event);
          assert.equal(node.state, to);
          assert.deepEqual(record.history!.at(-1), { node: 'n0', from, to, attempt: 1 });
        }
      }
    }
  });
});

storeRefusalContract('memory', memoryStoreFactory);
