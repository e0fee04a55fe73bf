/**
 * `amqps://` verifies certificates (RELIABILITY S6) and logs never carry credentials (S7). A TLS proxy with a
 * throwaway self-signed certificate (made by `openssl`) sits in front of the shared RabbitMQ; logs are read as
 * parsed JSON from an in-memory pino destination.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { after, before, describe, it } from 'node:test';
import { createServer, type Server } from 'node:tls';
import { promisify } from 'node:util';
import { pino } from 'pino';
import { AmqpBroker } from '../../src/brokers/amqp/amqp-broker.js';
import { ConfigError } from '../../src/core/errors.js';
import { Inbox } from '../contracts/inbox.js';
import { findExecutable, gate, requireRabbit } from '../support/services.js';

const url = new URL(process.env.BRAID_AMQP_URL ?? 'amqp://guest:guest@127.0.0.1:5672');
const credentials = `${url.username || 'guest'}:${url.password || 'guest'}`;
const rabbit = await requireRabbit(url.hostname, Number(url.port || 5672));
const tools = rabbit.available ? gate('openssl', findExecutable('openssl') !== undefined, 'not on the PATH') : rabbit;
const run = `braidtest_${randomBytes(4).toString('hex')}`;

/** A pino logger writing parsed JSON lines into `lines`. */
function captured(): { logger: pino.Logger; lines: Array<Record<string, unknown>>; text: () => string } {
  const lines: Array<Record<string, unknown>> = [];
  const raw: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _encoding, done) {
      raw.push(chunk.toString());
      lines.push(JSON.parse(chunk.toString()) as Record<string, unknown>);
      done();
    },
  });
  return { logger: pino({ level: 'debug' }, stream), lines, text: () => raw.join('') };
}

describe('AmqpBroker over TLS and in logs', { skip: tools.skip }, () => {
  let dir = '';
  let cert = '';
  let proxy: Server | undefined;
  let port = 0;

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'braid-tls-'));
    await promisify(execFile)('openssl', [
      'req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-days', '1', '-subj', '/CN=127.0.0.1',
      '-addext', 'subjectAltName=IP:127.0.0.1', '-keyout', join(dir, 'key.pem'), '-out', join(dir, 'cert.pem'),
    ]);
    cert = await readFile(join(dir, 'cert.pem'), 'utf8');
    const key = await readFile(join(dir, 'key.pem'), 'utf8');
    proxy = createServer({ key, cert }, (client) => {
      const upstream = createConnection({ host: url.hostname, port: Number(url.port || 5672) });
      for (const socket of [client, upstream]) socket.on('error', () => (client.destroy(), upstream.destroy()));
      client.pipe(upstream).pipe(client);
    });
    proxy.on('tlsClientError', () => undefined);
    await new Promise<void>((resolve) => proxy?.listen(0, '127.0.0.1', resolve));
    port = (proxy.address() as { port: number }).port;
  });

  after(async () => {
    await new Promise<void>((resolve) => (proxy ? proxy.close(() => resolve()) : resolve()));
    await rm(dir, { recursive: true, force: true });
  });

  it('refuses a certificate it cannot verify', async () => {
    const broker = new AmqpBroker({ url: `amqps://${credentials}@127.0.0.1:${port}`, prefix: `${run}_a` });
    await assert.rejects(broker.connect(), (error: unknown) => error instanceof ConfigError && /self[- ]signed/i.test(String(error)));
  });

  it('works end to end with the CA given in tls.ca', async () => {
    const broker = new AmqpBroker({ url: `amqps://${credentials}@127.0.0.1:${port}`, prefix: `${run}_b`, tls: { ca: cert } });
    await broker.connect();
    try {
      await broker.declare(['work']);
      const inbox = new Inbox().onEach((delivery) => void delivery.ack());
      const consumer = await broker.consume(['work'], { prefetch: 1 }, inbox.onDelivery);
      await broker.publish('work', Buffer.from('over tls'));
      await inbox.waitFor(1);
      assert.deepEqual(inbox.bodies(), ['over tls']);
      await consumer.stop();
    } finally {
      await broker.purge(['work']);
      await broker.close();
    }
  });

  it('warns at start when verification is switched off', async () => {
    const { logger, lines } = captured();
    const broker = new AmqpBroker({ url: `amqps://${credentials}@127.0.0.1:${port}`, prefix: `${run}_c`, tls: { rejectUnauthorized: false }, logger });
    await broker.connect();
    await broker.close();
    assert.ok(lines.some((line) => line.level === 40 && /verification is OFF/.test(String(line.msg))), JSON.stringify(lines));
  });

  it('never logs or reports the password', async () => {
    const secret = `pw-${randomBytes(6).toString('hex')}`;
    const { logger, text } = captured();
    const broker = new AmqpBroker({ url: `amqp://${url.username || 'guest'}:${secret}@${url.host}/`, prefix: `${run}_d`, logger });
    const error = await broker.connect().then(() => undefined, (thrown: unknown) => thrown);
    assert.ok(error instanceof ConfigError);
    const good = new AmqpBroker({ url: `amqp://${credentials}@${url.host}/`, prefix: `${run}_d`, logger });
    await good.connect();
    await good.close();
    assert.ok(text().includes('"host"'), 'logs show the host');
    for (const leak of [secret, `:${url.password || 'guest'}@`]) {
      assert.ok(!text().includes(leak) && !String(error).includes(leak) && !JSON.stringify(error).includes(leak), `leaked ${leak}`);
    }
  });
});
