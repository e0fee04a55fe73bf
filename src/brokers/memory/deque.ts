/**
 * A FIFO double-ended queue on one array with a moving head: `push`, `shift` and `unshift` in amortised O(1),
 * `remove` in O(n) (only used on rare paths: an ack after a consumer stopped, a purge).
 */
export class Deque<T> {
  private items: (T | undefined)[] = [];
  private head = 0;

  /** Number of items held. */
  get size(): number {
    return this.items.length - this.head;
  }

  /** Appends at the tail. */
  push(item: T): void {
    this.items.push(item);
  }

  /** Puts an item back at the head (a requeued delivery goes first). */
  unshift(item: T): void {
    if (this.head > 0) {
      this.head -= 1;
      this.items[this.head] = item;
    } else {
      this.items.unshift(item);
    }
  }

  /** Removes and returns the head, or `undefined` when empty. */
  shift(): T | undefined {
    if (this.head >= this.items.length) return undefined;
    const item = this.items[this.head];
    this.items[this.head] = undefined;
    this.head += 1;
    if (this.head >= 1024 && this.head * 2 >= this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    return item;
  }

  /** Removes one given item wherever it is; returns whether it was there. */
  remove(item: T): boolean {
    const index = this.items.indexOf(item, this.head);
    if (index < 0) return false;
    this.items.splice(index, 1);
    return true;
  }

  /** Removes every item. */
  clear(): void {
    this.items = [];
    this.head = 0;
  }

  /** Items from head to tail (a copy). */
  toArray(): T[] {
    return this.items.slice(this.head) as T[];
  }
}
