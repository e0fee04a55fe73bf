/**
 * The broker errors, defined with every other braid error in src/core/errors.ts; re-exported here for the
 * AMQP broker's modules.
 */
export { BrokerUnavailableError, BrokerClosedError } from '../../core/errors.js';
