/** The Broker contract on the Redis broker, against a private redis-server. */
import { after, before, describe } from 'node:test';
import { brokerContract } from '../contracts/broker.contract.js';
import { RedisServer } from '../support/redis-server.js';
import { requireRedis } from '../support/services.js';
import { redisFixture } from './redis-fixture.js';

const redis = await requireRedis();

describe('redis broker', { skip: redis.skip }, () => {
  let server: RedisServer;
  before(async () => {
    server = await RedisServer.start();
  });
  after(async () => {
    await server?.stop();
  });

  brokerContract('redis', () => redisFixture(server), { priorities: true, leaseMs: 2_000, holdsSlots: true });
});
