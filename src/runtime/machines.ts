/**
 * The node and workflow lifecycles, written once as xstate machines: the one place where the legal
 * transitions are written down (DESIGN inv 1). Stores never consult xstate at run time; they use the
 * transition tables derived from these machines below ({@link NODE_TRANSITIONS}, {@link WORKFLOW_TRANSITIONS}),
 * which the memory store checks in JS and the Redis store embeds in its Lua scripts.
 *
 * Node states:
 * - `pending`: waits for dependencies. Leaves on DEPS_MET (all met), BLOCK (one failed), CANCEL, REPLAY.
 * - `queued`: ready; a message is (or will be) in its queue. Leaves on CLAIM (a worker takes it), CANCEL.
 * - `running`: a worker holds the claim and its lease. Leaves on SUCCEED, FAIL, RETRY, REPLACE, REDELIVER
 *   (lease lapsed, back to the queue), LOSE (lease lapsed past `maxRedeliveries`), CANCEL.
 * - `retrying`: an attempt failed and a retry waits for its delay. Leaves on CLAIM (the delayed message
 *   arrives), CANCEL.
 * - `waiting`: the task replaced itself with a canvas (`ctx.replace`) and waits for it. Leaves on RESOLVE
 *   (the replacement succeeded), FAIL (it failed), CANCEL. Shown as `running` in snapshots.
 * - `succeeded`, `failed`, `blocked`, `canceled`: final until REPLAY sends the node back to `pending`
 *   (REPLAY_WAIT back to `waiting`, for a node that had replaced itself: its replacement is what re-runs).
 *
 * Workflow states: `running` until it settles once into `succeeded`, `failed` or `canceled`; REPLAY takes a
 * failed or canceled workflow back to `running`.
 */
import { setup, transition, type AnyStateMachine } from 'xstate';

/** Every state a node can be in inside a store. */
export type NodeState = 'pending' | 'queued' | 'running' | 'retrying' | 'waiting' | 'succeeded' | 'failed' | 'blocked' | 'canceled';

/** Every event that moves a node. */
export type NodeEvent = 'DEPS_MET' | 'CLAIM' | 'SUCCEED' | 'FAIL' | 'RETRY' | 'REPLACE' | 'RESOLVE' | 'REDELIVER' | 'LOSE' | 'BLOCK' | 'CANCEL' | 'REPLAY' | 'REPLAY_WAIT';

/** Every state a workflow can be in. */
export type WorkflowState = 'running' | 'succeeded' | 'failed' | 'canceled';

/** Every event that moves a workflow. */
export type WorkflowEvent = 'SETTLE_SUCCEEDED' | 'SETTLE_FAILED' | 'CANCEL' | 'REPLAY';

/** The node lifecycle. */
export const nodeMachine = setup({ types: { events: {} as { type: NodeEvent } } }).createMachine({
  id: 'node',
  initial: 'pending',
  states: {
    pending: { on: { DEPS_MET: 'queued', BLOCK: 'blocked', CANCEL: 'canceled' } },
    queued: { on: { CLAIM: 'running', CANCEL: 'canceled' } },
    running: {
      on: {
        SUCCEED: 'succeeded', FAIL: 'failed', RETRY: 'retrying', REPLACE: 'waiting',
        REDELIVER: 'queued', LOSE: 'failed', CANCEL: 'canceled',
      },
    },
    retrying: { on: { CLAIM: 'running', CANCEL: 'canceled' } },
    waiting: { on: { RESOLVE: 'succeeded', FAIL: 'failed', CANCEL: 'canceled' } },
    succeeded: { on: { REPLAY: 'pending', REPLAY_WAIT: 'waiting' } },
    failed: { on: { REPLAY: 'pending', REPLAY_WAIT: 'waiting' } },
    blocked: { on: { REPLAY: 'pending' } },
    canceled: { on: { REPLAY: 'pending', REPLAY_WAIT: 'waiting' } },
  },
});

/** The workflow lifecycle. */
export const workflowMachine = setup({ types: { events: {} as { type: WorkflowEvent } } }).createMachine({
  id: 'workflow',
  initial: 'running',
  states: {
    running: { on: { SETTLE_SUCCEEDED: 'succeeded', SETTLE_FAILED: 'failed', CANCEL: 'canceled' } },
    succeeded: {},
    failed: { on: { REPLAY: 'running' } },
    canceled: { on: { REPLAY: 'running' } },
  },
});

/** All node states, in lifecycle order. */
export const NODE_STATES: readonly NodeState[] = ['pending', 'queued', 'running', 'retrying', 'waiting', 'succeeded', 'failed', 'blocked', 'canceled'];
/** All node events. */
export const NODE_EVENTS: readonly NodeEvent[] = ['DEPS_MET', 'CLAIM', 'SUCCEED', 'FAIL', 'RETRY', 'REPLACE', 'RESOLVE', 'REDELIVER', 'LOSE', 'BLOCK', 'CANCEL', 'REPLAY', 'REPLAY_WAIT'];
/** All workflow states. */
export const WORKFLOW_STATES: readonly WorkflowState[] = ['running', 'succeeded', 'failed', 'canceled'];
/** All workflow events. */
export const WORKFLOW_EVENTS: readonly WorkflowEvent[] = ['SETTLE_SUCCEEDED', 'SETTLE_FAILED', 'CANCEL', 'REPLAY'];

/** `table[state][event]` is the next state, absent where the machine refuses the event. */
export type TransitionTable<S extends string, E extends string> = Readonly<Record<S, Readonly<Partial<Record<E, S>>>>>;

function deriveTable<S extends string, E extends string>(machine: AnyStateMachine, states: readonly S[], events: readonly E[]): TransitionTable<S, E> {
  const table = {} as Record<S, Partial<Record<E, S>>>;
  for (const state of states) {
    const row: Partial<Record<E, S>> = {};
    const snapshot = machine.resolveState({ value: state, context: {} });
    for (const event of events) {
      if (snapshot.can({ type: event })) {
        const [next] = transition(machine, snapshot, { type: event });
        row[event] = next.value as S;
      }
    }
    table[state] = Object.freeze(row);
  }
  return Object.freeze(table);
}

/** The node machine as a table (derived from {@link nodeMachine} at load). */
export const NODE_TRANSITIONS: TransitionTable<NodeState, NodeEvent> = deriveTable(nodeMachine, NODE_STATES, NODE_EVENTS);
/** The workflow machine as a table (derived from {@link workflowMachine} at load). */
export const WORKFLOW_TRANSITIONS: TransitionTable<WorkflowState, WorkflowEvent> = deriveTable(workflowMachine, WORKFLOW_STATES, WORKFLOW_EVENTS);

/** The state a node moves to on `event`, or undefined when the machine refuses it. */
export function nextNodeState(state: NodeState, event: NodeEvent): NodeState | undefined {
  return NODE_TRANSITIONS[state]?.[event];
}

/** The states from which `event` is legal. */
export function nodeStatesAccepting(event: NodeEvent): NodeState[] {
  return NODE_STATES.filter((s) => NODE_TRANSITIONS[s][event] !== undefined);
}

/** The state a workflow moves to on `event`, or undefined when the machine refuses it. */
export function nextWorkflowState(state: WorkflowState, event: WorkflowEvent): WorkflowState | undefined {
  return WORKFLOW_TRANSITIONS[state]?.[event];
}

/** Final node states (until a replay). */
export const FINAL_NODE_STATES: ReadonlySet<NodeState> = new Set(['succeeded', 'failed', 'blocked', 'canceled']);
