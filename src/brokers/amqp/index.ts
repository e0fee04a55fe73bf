/** The RabbitMQ broker (amqplib): quorum or classic queues, publisher confirms, plugin-free delays. */
export { AmqpBroker, type AmqpCapabilities } from './amqp-broker.js';
export { BrokerClosedError, BrokerUnavailableError } from './errors.js';
export type { AmqpBrokerOptions, AmqpQueueType, AmqpTlsOptions } from './options.js';
