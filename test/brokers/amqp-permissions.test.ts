/**
 * The least-privilege setup that docs/brokers.md gives (a vhost per app, permission regexes matching the
 * prefix) carries the whole broker cycle: declare, publish, delay, consume, dead-letter, read dead letters,
 * purge. A user without write on `amq.default` is refused at once with ConfigError, not after the publish
 * timeout. Creates a throwaway vhost and user on the shared server and deletes both afterwards.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import { AmqpBroker } from '../../src/brokers/amqp/amqp-broker.js';
import { ConfigError } from '../../src/core/errors.js';
import { Inbox } from '../contracts/inbox.js';
import { findExecutable, gate, requireRabbit } from '../support/services.js';

const server = new URL(process.env.BRAID_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const rabbit = await requireRabbit(server.hostname, Number(server.port || 5672));
const ctl = rabbit.available ? gate('rabbitmqctl', findExecutable('rabbitmqctl') !== undefined, 'not on the PATH') : rabbit;
const rabbitmqctl = async (...args: string[]): Promise<string> => (await promisify(execFile)('rabbitmqctl', ['-q', '-s', ...args])).stdout;

const id = randomBytes(4).toString('hex');
const vhost = `braidtest_vhost_${id}`;
const password = `pw-${randomBytes(8).toString('hex')}`;
const prefix = 'app';
/** The regexes of docs/brokers.md for prefix `app`. */
const documented = { configure: '^app\\.', write: '^(app\\..*|amq\\.default)$', read: '^app\\.' };

async function addUser(user: string, permissions: typeof documented): Promise<string> {
  await rabbitmqctl('add_user', user, password);
  await rabbitmqctl('set_permissions', '-p', vhost, user, permissions.configure, permissions.write, permissions.read);
  return `amqp://${user}:${password}@${server.host}/${vhost}`;
}

describe('AmqpBroker under a least-privilege user', { skip: ctl.skip }, () => {
  const users: string[] = [];
  before(async () => {
    await rabbitmqctl('add_vhost', vhost);
  });
  after(async () => {
    await rabbitmqctl('delete_vhost', vhost);
    for (const user of users) await rabbitmqctl('delete_user', user);
  });

  for (const queueType of ['quorum', 'classic'] as const) {
    it(`runs the whole cycle with the documented permissions (${queueType})`, async () => {
      const user = `braidtest_user_${id}_${queueType}`;
      users.push(user);
      const broker = new AmqpBroker({ url: await addUser(user, documented), prefix, queueType });
      await broker.connect();
      try {
        await broker.declare(['work']);
        const inbox = new Inbox().onEach((delivery) => {
          if (delivery.body.toString() === 'bad') void delivery.deadLetter('malformed', 'test');
          else void delivery.ack();
        });
        const consumer = await broker.consume(['work'], { prefetch: 2 }, inbox.onDelivery);
        await broker.publish('work', Buffer.from('bad'));
        await broker.publish('work', Buffer.from('later'), { delayMs: 50 });
        await inbox.waitFor(2);
        await consumer.stop();
        assert.deepEqual(inbox.bodies(), ['bad', 'later']);
        assert.deepEqual((await broker.deadLetters()).map((letter) => letter.reason), ['malformed']);
      } finally {
        await broker.purge(['work']);
        await broker.close();
      }
    });
  }

  it('refuses at once, with ConfigError, a user who cannot write to amq.default', async () => {
    const user = `braidtest_user_${id}_nodefault`;
    users.push(user);
    const url = await addUser(user, { ...documented, write: '^app\\.' });
    const broker = new AmqpBroker({ url, prefix, publishTimeoutMs: 20_000 });
    await broker.connect();
    try {
      await broker.declare(['work']);
      const started = Date.now();
      await assert.rejects(broker.publish('work', Buffer.from('x')), (error: unknown) => error instanceof ConfigError && /amq\.default/.test(String(error)));
      assert.ok(Date.now() - started < 10_000, 'not after the publish timeout');
    } finally {
      await broker.purge(['work']);
      await broker.close();
    }
  });
});
