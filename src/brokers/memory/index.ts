/** The in-process broker. */
export { MemoryBroker, type MemoryBrokerOptions } from './memory-broker.js';
