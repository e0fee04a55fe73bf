/**
 * The store-contract factory for the memory store: its real clock unless a test asks for a fake one.
 */
import { MemoryStore } from '../../src/stores/memory/memory-store.js';
import type { StoreFactory } from '../contracts/store/harness.js';

export const memoryStoreFactory: StoreFactory = async ({ clock, history }) => {
  if (clock === 'fake') {
    let now = Date.UTC(2030, 0, 1);
    const store = new MemoryStore({ clock: () => now, history: history ?? false });
    await store.connect();
    return { store, cleanup: () => store.close(), advanceClock: (ms: number) => { now += ms; } };
  }
  const store = new MemoryStore({ history: history ?? false });
  await store.connect();
  return { store, cleanup: () => store.close() };
};
