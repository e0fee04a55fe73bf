/**
 * ioredis commands whose wire bytes (RESP) braid writes once, straight into one buffer, instead of ioredis
 * building them on each send: ioredis' `Command` copies its arguments with `args.flat()`, converts each and
 * concatenates five string pieces per argument, which the socket then flattens and encodes. For the store's
 * batched FCALLs (a few thousand arguments per call) those pieces were the largest allocation of a busy worker
 * (about 5 KB per one-node workflow). The command is an ordinary ioredis `Command` otherwise: it queues,
 * pipelines, is re-sent after a reconnect (the same bytes) and decodes its reply as strings, as `client.fcall`
 * does.
 */
import { Command } from 'ioredis';
import { decimalDigits, writeDecimal } from './decimal.js';

/**
 * How a prebuilt command decodes its reply and what ioredis may read of it. `replyEncoding` null keeps bulk
 * replies as Buffers (binary-safe), as ioredis' `...Buffer` methods do; `args` are never written (the bytes
 * are given) but let ioredis see what it reads of a command's arguments: a blocking command's timeout (its
 * `blockingTimeout` option), a script's sha.
 */
export interface PrebuiltOptions {
  replyEncoding?: BufferEncoding | null;
  args?: ReadonlyArray<string | number>;
}

/** A command whose RESP bytes are given. */
class PrebuiltCommand extends Command {
  constructor(name: string, private readonly wire: Buffer, options?: PrebuiltOptions) {
    super(name, options?.args === undefined ? [] : [...options.args], { replyEncoding: options === undefined ? 'utf8' : (options.replyEncoding ?? undefined) });
  }

  override toWritable(): Buffer {
    return this.wire;
  }
}

/** What can send a command: an ioredis client or pipeline (both have `sendCommand`). */
export interface CommandSink {
  sendCommand(command: Command): unknown;
}

/**
 * Sends `name` with the RESP bytes `wire` (from {@link respWire}) on a client or a pipeline; the promise
 * settles with the reply (strings, or as `options` say), as ioredis' own method would.
 */
export function sendPrebuilt(on: CommandSink, name: string, wire: Buffer, options?: PrebuiltOptions): Promise<unknown> {
  const command = new PrebuiltCommand(name, wire, options);
  on.sendCommand(command);
  return command.promise as Promise<unknown>;
}

/**
 * Node's own UTF-8 write of a Buffer, what `buffer.write(s, at, 'utf8')` calls after checking its arguments
 * (those checks cost as much as the copy itself here, with one call per argument); writes up to the buffer's
 * end and returns the bytes written. `buffer.write` where a runtime lacks it.
 */
interface RawWrite {
  utf8Write(s: string, at: number): number;
}
const HAS_UTF8_WRITE = typeof (Buffer.prototype as unknown as Partial<RawWrite>).utf8Write === 'function';

/**
 * Arguments up to this many UTF-16 units are copied by a loop here, cheaper than a native call for ids,
 * numbers and flags (micro-measured 0.86 -> 0.49 µs per create entry of a batch); longer ones by utf8Write.
 */
const SHORT = 32;

/** An argument of {@link respWire}: a Buffer is written as is (binary-safe). */
export type WireArg = string | number | Buffer;

/**
 * The RESP bytes of the command `head` (its name and first arguments) followed by `tails` flattened one level,
 * written straight into one buffer: no string pieces per argument, nothing left for the socket to encode.
 */
export function respWire(head: ReadonlyArray<WireArg>, ...tails: ReadonlyArray<ReadonlyArray<WireArg>>): Buffer {
  const parts = [head, ...tails];
  let count = 0;
  let size = 0;
  let longest = 0;
  for (const part of parts) {
    for (const arg of part) {
      const length = typeof arg === 'string' ? arg.length : typeof arg === 'number' ? String(arg).length : arg.length;
      count += 1;
      size += 5 + decimalDigits(length) + length;
      if (length > longest && typeof arg === 'string') longest = length;
    }
  }
  size += 3 + decimalDigits(count);
  // Lengths count UTF-16 units, which are UTF-8 bytes only for ASCII. The slack lets any one argument encode
  // whole (at most 3 bytes a unit), so a longer write than its length shows it is not ASCII.
  const buffer = Buffer.allocUnsafe(size + 2 * longest);
  buffer[0] = 42;
  let at = writeDecimal(buffer, 1, count);
  buffer[at++] = 13;
  buffer[at++] = 10;
  for (const part of parts) {
    for (const arg of part) {
      if (typeof arg === 'object') {
        buffer[at++] = 36;
        at = writeDecimal(buffer, at, arg.length);
        buffer[at++] = 13;
        buffer[at++] = 10;
        buffer.set(arg, at);
        at += arg.length;
        buffer[at++] = 13;
        buffer[at++] = 10;
        continue;
      }
      const s = typeof arg === 'string' ? arg : String(arg);
      buffer[at++] = 36;
      at = writeDecimal(buffer, at, s.length);
      buffer[at++] = 13;
      buffer[at++] = 10;
      if (s.length <= SHORT) {
        for (let i = 0; i < s.length; i++) {
          const code = s.charCodeAt(i);
          if (code > 127) return utf8Wire(count, parts);
          buffer[at + i] = code;
        }
      } else if ((HAS_UTF8_WRITE ? (buffer as unknown as RawWrite).utf8Write(s, at) : buffer.write(s, at, 'utf8')) !== s.length) {
        return utf8Wire(count, parts);
      }
      at += s.length;
      buffer[at++] = 13;
      buffer[at++] = 10;
    }
  }
  return buffer.subarray(0, at);
}

/** {@link respWire} when an argument is not ASCII: each one byte-counted. */
function utf8Wire(count: number, parts: ReadonlyArray<ReadonlyArray<WireArg>>): Buffer {
  const pieces: Buffer[] = [];
  let text = `*${count}\r\n`;
  for (const part of parts) {
    for (const arg of part) {
      if (typeof arg === 'object') {
        pieces.push(Buffer.from(text + '$' + arg.length + '\r\n'), arg);
        text = '\r\n';
        continue;
      }
      const s = typeof arg === 'string' ? arg : String(arg);
      text += '$' + Buffer.byteLength(s) + '\r\n' + s + '\r\n';
    }
  }
  if (pieces.length === 0) return Buffer.from(text);
  pieces.push(Buffer.from(text));
  return Buffer.concat(pieces);
}
