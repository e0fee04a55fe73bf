/**
 * Child process for the lifecycle test: runs one workflow in the mode the parent gave through
 * `TestEnv.childEnv` (`BRAID_TEST_EAGER`, `BRAID_TEST_BROKER`, `BRAID_TEST_STORE`, `BRAID_TEST_PREFIX`), prints its
 * result, calls `app.close()` and then does nothing of its own: the process must exit on its own (API.md).
 *
 * It also prints, as a JSON array on a second line, what still keeps its event loop alive once the sockets of
 * the app have closed (they close by themselves after `close()`, on the server's answer): `[]` when `close()`
 * released every connection and timer, as API.md says. A timer left behind lets the process exit only when it
 * fires, which the exit alone would not show.
 */
import { pino } from 'pino';
import { chain, createApp } from '../../src/index.js';

const env = process.env;
const eager = env.BRAID_TEST_EAGER === '1';
const app = createApp({
  eager,
  ...(env.BRAID_TEST_BROKER ? { broker: env.BRAID_TEST_BROKER } : {}),
  ...(env.BRAID_TEST_STORE ? { store: env.BRAID_TEST_STORE } : {}),
  ...(env.BRAID_TEST_PREFIX ? { prefix: env.BRAID_TEST_PREFIX } : {}),
  logger: pino({ level: 'silent' }),
});
const add = app.task('add', (_ctx, a: number, b: number) => a + b);
const double = app.task('double', (_ctx, x: number) => x * 2);
if (!eager) await app.worker({ queues: ['default'], leaseMs: 1_000 }).start();
const wf = await app.start(chain(add.s(1, 2), double.s()));
process.stdout.write(`${JSON.stringify(await wf.result())}\n`);
await app.close();

const turn = (): Promise<void> => new Promise((resolve) => setImmediate(resolve));
/** Resources of the process itself (its stdio), not of the app. */
const own = new Set(['PipeWrap', 'TTYWrap', 'FSReqCallback']);
while (process.getActiveResourcesInfo().includes('TCPSocketWrap')) await turn();
// A socket's 'close' listeners (ioredis clears its disconnect timer there) run in the loop turn after its handle went.
await turn();
await turn();
process.stdout.write(`${JSON.stringify(process.getActiveResourcesInfo().filter((resource) => !own.has(resource)))}\n`);
