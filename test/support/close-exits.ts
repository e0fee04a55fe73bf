/**
 * Child process for the lifecycle test: runs one workflow in the mode named by argv[2] (`eager` or `memory`),
 * prints its result, calls `app.close()` and then does nothing: the process must exit on its own (API.md).
 */
import { pino } from 'pino';
import { chain, createApp } from '../../src/index.js';

const eager = process.argv[2] === 'eager';
const app = createApp({ eager, logger: pino({ level: 'silent' }) });
const add = app.task('add', (_ctx, a: number, b: number) => a + b);
const double = app.task('double', (_ctx, x: number) => x * 2);
if (!eager) await app.worker({ queues: ['default'], leaseMs: 1_000 }).start();
const wf = await app.start(chain(add.s(1, 2), double.s()));
process.stdout.write(`${JSON.stringify(await wf.result())}\n`);
await app.close();
