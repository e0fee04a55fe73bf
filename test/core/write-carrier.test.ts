/**
 * The ride protocol of core/write-carrier.ts without a server: who rides where, in which order, and that no
 * rider is ever left waiting for a write that does not come.
 */
import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import type { Redis } from 'ioredis';
import { WriteCarrier, type RideLink } from '../../src/core/write-carrier.js';

function link(name: string): RideLink & { name: string } {
  return { name, redis: {} as Redis, unlessDropped: <T>(work: Promise<T>) => work };
}

/** A rider that records where it was sent: the link's name, or 'alone'. */
function recorder(log: string[], label: string) {
  return (on: RideLink | undefined): void => {
    log.push(`${label}@${on === undefined ? 'alone' : (on as RideLink & { name: string }).name}`);
  };
}

describe('WriteCarrier', () => {
  test('nothing rides when no write is expected', () => {
    const carrier = new WriteCarrier();
    assert.equal(carrier.open, false);
    assert.equal(carrier.ride(() => assert.fail('must not be called')), false);
  });

  test('riders board the expected write in the order they joined, once', () => {
    const carrier = new WriteCarrier();
    const a = link('a');
    const log: string[] = [];
    carrier.expect(a);
    assert.equal(carrier.open, true);
    assert.equal(carrier.ride(recorder(log, 'r1')), true);
    assert.equal(carrier.ride(recorder(log, 'r2')), true);
    assert.deepEqual(log, [], 'riders wait for the write');
    carrier.board(a);
    assert.deepEqual(log, ['r1@a', 'r2@a']);
    assert.equal(carrier.open, false);
    carrier.board(a);
    carrier.release();
    assert.deepEqual(log, ['r1@a', 'r2@a'], 'a rider is sent once');
  });

  test('riders of a ride expected on another link go alone', () => {
    const carrier = new WriteCarrier();
    const log: string[] = [];
    carrier.expect(link('a'));
    carrier.ride(recorder(log, 'r1'));
    carrier.board(link('b'));
    assert.deepEqual(log, ['r1@alone']);
  });

  test('release with a link leaves another link\'s ride open', () => {
    const carrier = new WriteCarrier();
    const a = link('a');
    const log: string[] = [];
    carrier.expect(a);
    carrier.ride(recorder(log, 'r1'));
    carrier.release(link('b'));
    assert.deepEqual(log, []);
    carrier.release(a);
    assert.deepEqual(log, ['r1@alone']);
  });

  test('a second expectation on another link first lets the riders of the first go alone', () => {
    const carrier = new WriteCarrier();
    const a = link('a');
    const b = link('b');
    const log: string[] = [];
    carrier.expect(a);
    carrier.ride(recorder(log, 'r1'));
    carrier.expect(b);
    carrier.ride(recorder(log, 'r2'));
    carrier.board(b);
    assert.deepEqual(log, ['r1@alone', 'r2@b']);
  });

  test('a ride nobody boards is released after the turn', async () => {
    const carrier = new WriteCarrier();
    const log: string[] = [];
    carrier.expect(link('a'));
    carrier.ride(recorder(log, 'r1'));
    await new Promise((resolve) => process.nextTick(resolve));
    assert.deepEqual(log, [], 'still open within the turn');
    await new Promise((resolve) => setImmediate(resolve));
    assert.deepEqual(log, ['r1@alone']);
    assert.equal(carrier.open, false);
  });

  test('joined tells whether a rider side is wired', () => {
    const carrier = new WriteCarrier();
    assert.equal(carrier.joined, false);
    carrier.join();
    assert.equal(carrier.joined, true);
  });
});
