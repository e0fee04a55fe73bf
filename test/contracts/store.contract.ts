/**
 * The store contract: one suite that every {@link Store} must pass (memory, Redis), holding each to the
 * semantics of the pure step functions in src/runtime/step/ and the rules of DESIGN inv 1-4, 7 and
 * RELIABILITY §1. The tests live in ./store/ by behaviour area; this is the one entry point.
 *
 * @example
 * storeContract('memory', async ({ clock, history }) => { ... return { store, cleanup, advanceClock } });
 */
import { describe } from 'node:test';
import { commitsContract } from './store/commits.js';
import { continueContract } from './store/continue.js';
import { createClaimContract } from './store/create-claim.js';
import { fanInContract } from './store/fan-in.js';
import type { ContractOptions, StoreFactory } from './store/harness.js';
import { propertyContract } from './store/property.js';
import { replaceContract } from './store/replace.js';
import { replayContract } from './store/replay.js';
import { settleCancelContract } from './store/settle-cancel.js';
import { sweepContract } from './store/sweep.js';

export type { ContractOptions, StoreFactory, StoreHarness, StoreHarnessOptions } from './store/harness.js';

/** Registers the whole store contract under `describe(name)`. */
export function storeContract(name: string, make: StoreFactory, options: ContractOptions = {}): void {
  describe(`store contract: ${name}`, () => {
    createClaimContract(make);
    commitsContract(make);
    continueContract(make);
    fanInContract(make);
    settleCancelContract(make);
    replayContract(make);
    replaceContract(make);
    sweepContract(make);
    propertyContract(make, options);
  });
}
