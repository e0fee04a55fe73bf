/** The Broker contract on the memory broker, plus what only the memory broker promises. */
import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { MemoryBroker } from '../../src/brokers/memory/memory-broker.js';
import { ConfigError } from '../../src/core/errors.js';
import { brokerContract } from '../contracts/broker.contract.js';
import { Inbox } from '../contracts/inbox.js';

brokerContract(
  'memory',
  async () => {
    const broker = new MemoryBroker();
    await broker.connect();
    return { broker, cleanup: () => broker.close() };
  },
  { priorities: true, holdsSlots: true },
);

describe('MemoryBroker', () => {
  it('purges a queue of 150,000 ready messages (one spread of them into push would overflow the stack)', async () => {
    const broker = new MemoryBroker();
    const body = Buffer.from('x');
    await Promise.all(Array.from({ length: 150_000 }, () => broker.publish('big', body)));
    await broker.purge(['big']);
    const inbox = new Inbox();
    await broker.consume(['big'], { prefetch: 1 }, inbox.onDelivery);
    await broker.publish('big', Buffer.from('after'));
    await inbox.waitFor(1);
    assert.equal(inbox.items[0]!.body.toString(), 'after', 'nothing purged came through');
    await broker.close();
  });

  it('never delivers inside publish', async () => {
    const broker = new MemoryBroker();
    const inbox = new Inbox();
    await broker.consume(['q'], { prefetch: 1 }, inbox.onDelivery);
    const published = broker.publish('q', Buffer.from('x'));
    assert.equal(inbox.items.length, 0);
    await published;
    assert.equal(inbox.items.length, 0);
    await inbox.waitFor(1);
    await broker.close();
  });

  it("hands every queue, present and future, to a '*' consumer", async () => {
    const broker = new MemoryBroker();
    await broker.publish('early', Buffer.from('e'));
    const inbox = new Inbox().onEach((delivery) => void delivery.ack());
    await broker.consume(['*'], { prefetch: 4 }, inbox.onDelivery);
    await broker.publish('late', Buffer.from('l'));
    await inbox.waitFor(2);
    assert.deepEqual(inbox.items.map((delivery) => delivery.queue).sort(), ['early', 'late']);
    await broker.close();
  });

  it('takes turns across the queues of one consumer', async () => {
    const broker = new MemoryBroker();
    for (let i = 0; i < 3; i += 1) await broker.publish('a', Buffer.from(`a${i}`));
    for (let i = 0; i < 3; i += 1) await broker.publish('b', Buffer.from(`b${i}`));
    const inbox = new Inbox().onEach((delivery) => void delivery.ack());
    await broker.consume(['a', 'b'], { prefetch: 1 }, inbox.onDelivery);
    await inbox.waitFor(6);
    assert.deepEqual(inbox.bodies(), ['a0', 'b0', 'a1', 'b1', 'a2', 'b2']);
    await broker.close();
  });

  it('lets a stopped consumer still ack what it held until someone else takes it', async () => {
    const broker = new MemoryBroker();
    await broker.publish('q', Buffer.from('x'));
    const inbox = new Inbox();
    const consumer = await broker.consume(['q'], { prefetch: 1 }, inbox.onDelivery);
    const [delivery] = await inbox.waitFor(1);
    await consumer.stop();
    await delivery?.ack();
    await broker.publish('q', Buffer.from('sentinel'));
    const after = new Inbox();
    await broker.consume(['q'], { prefetch: 4 }, after.onDelivery);
    await after.waitFor(1);
    assert.deepEqual(after.bodies(), ['sentinel']);
    await broker.close();
  });

  it('measures delays on the injected clock and releases them on runDue()', async () => {
    let now = 1_000_000;
    const broker = new MemoryBroker({ clock: () => now });
    const inbox = new Inbox();
    await broker.consume(['q'], { prefetch: 1 }, inbox.onDelivery);
    await broker.publish('q', Buffer.from('x'), { delayMs: 30 * 24 * 3600 * 1000 });
    broker.runDue();
    await new Promise((resolve) => setImmediate(resolve));
    assert.equal(inbox.items.length, 0);
    now += 30 * 24 * 3600 * 1000;
    broker.runDue();
    await inbox.waitFor(1);
    await broker.close();
  });

  it('releases a delivery whose callback throws', async () => {
    const broker = new MemoryBroker();
    let calls = 0;
    const inbox = new Inbox();
    await broker.consume(['q'], { prefetch: 1 }, (delivery) => {
      calls += 1;
      if (calls === 1) throw new Error('boom');
      inbox.onDelivery(delivery);
    });
    await broker.publish('q', Buffer.from('x'));
    const [delivery] = await inbox.waitFor(1);
    assert.equal(delivery?.redelivered, true);
    await broker.close();
  });

  it('refuses bad publish options and publishing after close', async () => {
    const broker = new MemoryBroker();
    await assert.rejects(broker.publish('q', Buffer.from('x'), { priority: 10 }), ConfigError);
    await assert.rejects(broker.publish('q', Buffer.from('x'), { delayMs: Number.NaN }), ConfigError);
    await assert.rejects(broker.publish('q', Buffer.from('x'), { delayMs: -1 }), ConfigError);
    await assert.rejects(broker.consume(['q'], { prefetch: 0 }, () => undefined), ConfigError);
    await broker.close();
    await assert.rejects(broker.publish('q', Buffer.from('x')));
  });
});
