/**
 * A binary min-heap of delayed items ordered by due time, then by insertion order (so two messages due at the
 * same instant keep their publish order).
 */
export class DelayHeap<T> {
  private readonly due: number[] = [];
  private readonly seq: number[] = [];
  private readonly values: T[] = [];
  private nextSeq = 0;

  /** Number of items held. */
  get size(): number {
    return this.values.length;
  }

  /** Due time of the earliest item, or `undefined` when empty. */
  peekDue(): number | undefined {
    return this.due[0];
  }

  /** Adds an item due at `dueAt`. */
  push(dueAt: number, value: T): void {
    this.due.push(dueAt);
    this.seq.push(this.nextSeq++);
    this.values.push(value);
    this.up(this.values.length - 1);
  }

  /** Removes and returns the earliest item if it is due at or before `now`. */
  popDue(now: number): T | undefined {
    const first = this.due[0];
    if (first === undefined || first > now) return undefined;
    const top = this.values[0] as T;
    const last = this.values.length - 1;
    this.swap(0, last);
    this.due.pop();
    this.seq.pop();
    this.values.pop();
    if (last > 0) this.down(0);
    return top;
  }

  /** Keeps only the items `keep` accepts (a purge). */
  filter(keep: (value: T) => boolean): void {
    const kept: Array<[number, T]> = [];
    for (let i = 0; i < this.values.length; i += 1) {
      const value = this.values[i] as T;
      if (keep(value)) kept.push([this.due[i] as number, value]);
    }
    this.due.length = 0;
    this.seq.length = 0;
    this.values.length = 0;
    for (const [dueAt, value] of kept) this.push(dueAt, value);
  }

  private less(a: number, b: number): boolean {
    const da = this.due[a] as number;
    const db = this.due[b] as number;
    return da < db || (da === db && (this.seq[a] as number) < (this.seq[b] as number));
  }

  private swap(a: number, b: number): void {
    [this.due[a], this.due[b]] = [this.due[b] as number, this.due[a] as number];
    [this.seq[a], this.seq[b]] = [this.seq[b] as number, this.seq[a] as number];
    [this.values[a], this.values[b]] = [this.values[b] as T, this.values[a] as T];
  }

  private up(index: number): void {
    let i = index;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) return;
      this.swap(i, parent);
      i = parent;
    }
  }

  private down(index: number): void {
    let i = index;
    const n = this.values.length;
    for (;;) {
      const left = 2 * i + 1;
      const right = left + 1;
      let smallest = i;
      if (left < n && this.less(left, smallest)) smallest = left;
      if (right < n && this.less(right, smallest)) smallest = right;
      if (smallest === i) return;
      this.swap(i, smallest);
      i = smallest;
    }
  }
}
