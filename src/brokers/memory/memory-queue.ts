/**
 * One in-process queue: ten FIFO levels, one per priority (0-9), read highest first. Also the shape of a
 * message record as the memory broker tracks it through its life.
 */
import { Deque } from './deque.js';

/** Where a message is in its life. */
export type MessageState = 'delayed' | 'ready' | 'held' | 'done';

/** A message as the memory broker keeps it. */
export interface MemoryMessage {
  readonly queue: string;
  readonly body: Buffer;
  readonly priority: number;
  redelivered: boolean;
  state: MessageState;
  /** Counts hand-outs: a delivery acts on the message only while it still carries the current generation. */
  generation: number;
  /** The consumer holding it while `state` is `held`. */
  holder: MessageHolder | undefined;
}

/** What holds handed-out messages (a consumer). */
export interface MessageHolder {
  readonly held: Set<MemoryMessage>;
}

/** Highest priority a message may carry. */
export const MAX_PRIORITY = 9;

/** The ready messages of one queue, by priority. */
export class MemoryQueue {
  private readonly levels: Deque<MemoryMessage>[] = [];
  private count = 0;

  constructor(readonly name: string) {
    for (let p = 0; p <= MAX_PRIORITY; p += 1) this.levels.push(new Deque<MemoryMessage>());
  }

  /** Number of ready messages. */
  get size(): number {
    return this.count;
  }

  /** Appends a ready message behind the others of its priority. */
  push(message: MemoryMessage): void {
    this.level(message.priority).push(message);
    this.count += 1;
  }

  /** Puts a returned message at the head of its priority, so it goes out next. */
  unshift(message: MemoryMessage): void {
    this.level(message.priority).unshift(message);
    this.count += 1;
  }

  /** Takes the oldest message of the highest priority present. */
  shift(): MemoryMessage | undefined {
    if (this.count === 0) return undefined;
    for (let p = MAX_PRIORITY; p >= 0; p -= 1) {
      const message = this.level(p).shift();
      if (message !== undefined) {
        this.count -= 1;
        return message;
      }
    }
    return undefined;
  }

  /** Removes one ready message (an ack of a message that was returned but not handed out again). */
  remove(message: MemoryMessage): boolean {
    const removed = this.level(message.priority).remove(message);
    if (removed) this.count -= 1;
    return removed;
  }

  /** Removes and returns every ready message. */
  drain(): MemoryMessage[] {
    const all: MemoryMessage[] = [];
    for (const level of this.levels) {
      for (const message of level.toArray()) all.push(message); // not push(...): past ~120,000 it overflows the stack
      level.clear();
    }
    this.count = 0;
    return all;
  }

  private level(priority: number): Deque<MemoryMessage> {
    return this.levels[priority] as Deque<MemoryMessage>;
  }
}
