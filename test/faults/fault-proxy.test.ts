/**
 * The fault proxy itself: cuts reset, partitions hold bytes until the heal, a server that dies during a
 * partition leaves a half-open client that is reset on its next write, a stranded one stays half-open for good,
 * rejection closes at once.
 */
import { describe, it, before, after } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type AddressInfo, type Server, type Socket } from 'node:net';
import { once } from 'node:events';
import { FaultProxy } from '../support/fault-proxy.js';

const serverSockets = new Set<Socket>();

function echoServer(): Promise<Server> {
  const server = createServer((s) => {
    serverSockets.add(s);
    s.on('close', () => serverSockets.delete(s));
    s.on('data', (d) => s.write(d)).on('error', () => undefined);
  });
  return new Promise((resolve) => server.listen(0, '127.0.0.1', () => resolve(server)));
}

async function dial(port: number): Promise<Socket> {
  const socket = connect(port, '127.0.0.1');
  await once(socket, 'connect');
  return socket;
}

/** Resolves when the socket closes, whatever error came first (`once` would reject on the error). */
function closeOf(socket: Socket): Promise<void> {
  socket.on('error', () => undefined);
  return new Promise((resolve) => socket.on('close', () => resolve()));
}

async function echo(socket: Socket, text: string): Promise<string> {
  const reply = once(socket, 'data');
  socket.write(text);
  return String((await reply)[0]);
}

describe('fault proxy', () => {
  let server: Server;
  let proxy: FaultProxy;
  before(async () => {
    server = await echoServer();
    proxy = await FaultProxy.start({ port: (server.address() as AddressInfo).port });
  });
  after(async () => {
    await proxy.close();
    server.close();
  });

  it('passes bytes both ways', async () => {
    const s = await dial(proxy.port);
    assert.equal(await echo(s, 'hello'), 'hello');
    s.destroy();
  });

  it('cutAll resets live connections', async () => {
    const s = await dial(proxy.port);
    await echo(s, 'x');
    const closed = closeOf(s);
    proxy.cutAll();
    await closed;
    assert.equal(s.destroyed, true);
  });

  it('a partition holds bytes until the heal, then delivers them in order', async () => {
    const s = await dial(proxy.port);
    await echo(s, 'warm');
    proxy.partition();
    let received = '';
    s.on('data', (d) => (received += String(d)));
    s.write('a');
    s.write('b');
    // Nothing may come back while partitioned: give the event loop a few turns to prove it.
    for (let i = 0; i < 20; i++) await new Promise((r) => setImmediate(r));
    assert.equal(received, '');
    const got = new Promise<void>((resolve) => s.on('data', () => received.length >= 2 && resolve()));
    proxy.heal();
    await got;
    assert.equal(received, 'ab');
    s.destroy();
  });

  it('a server gone during a partition leaves a half-open client, reset on its first write after the heal', async () => {
    const s = await dial(proxy.port);
    await echo(s, 'warm');
    s.on('error', () => undefined);
    proxy.partition();
    const upstreamGone = [...serverSockets].map((sock) => once(sock, 'close'));
    for (const sock of serverSockets) sock.destroy();
    await Promise.all(upstreamGone);
    proxy.heal();
    assert.equal(s.destroyed, false, 'the client side stays open: it cannot know yet');
    const closed = closeOf(s);
    s.write('after');
    await closed;
  });

  it('strand leaves a live client half-open for good: its server end closed, its writes swallowed, nothing back', async () => {
    const s = await dial(proxy.port);
    await echo(s, 'warm');
    const got: string[] = [];
    s.on('data', (d) => got.push(String(d)));
    s.on('error', () => undefined);
    const upstreamGone = [...serverSockets].map((sock) => once(sock, 'close'));
    proxy.strand();
    await Promise.all(upstreamGone);
    s.write('lost');
    // A new connection passes as usual; by its round trip the stranded write has been swallowed.
    const fresh = await dial(proxy.port);
    assert.equal(await echo(fresh, 'fresh'), 'fresh');
    fresh.destroy();
    assert.deepEqual(got, [], 'nothing comes back');
    assert.equal(s.destroyed, false, 'the client side stays open');
    s.destroy();
  });

  it('rejecting closes new connections at once', async () => {
    proxy.rejecting(true);
    await closeOf(connect(proxy.port, '127.0.0.1'));
    proxy.rejecting(false);
  });
});
