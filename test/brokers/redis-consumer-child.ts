/**
 * Child process for the SIGKILL test: consumes one queue of the Redis broker and reports every delivery to its
 * parent over IPC, never acking. Arguments: url, prefix, queue, leaseMs.
 */
import { RedisBroker } from '../../src/brokers/redis/redis-broker.js';

const [url, prefix, queue, leaseMs] = process.argv.slice(2) as [string, string, string, string];
const broker = new RedisBroker({ url, prefix });
await broker.connect();
await broker.consume([queue], { prefetch: 10, leaseMs: Number(leaseMs) }, (delivery) => {
  process.send?.({ body: delivery.body.toString('utf8'), redelivered: delivery.redelivered });
});
process.send?.({ ready: true });
