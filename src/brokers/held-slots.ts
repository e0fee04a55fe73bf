/**
 * Prefetch slots a consumer lends out without a delivery (Consumer.hold): a count, and for each slot a release
 * that gives it back once, however often it is called.
 */

/** The slots one consumer has lent out. */
export class HeldSlots {
  /** Slots held now. */
  count = 0;

  /** @param freed - called each time a slot comes back (the consumer may take more now). */
  constructor(private readonly freed: () => void) {}

  /** Lends one slot; the returned function gives it back (only its first call counts). */
  take(): () => void {
    this.count += 1;
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      this.count -= 1;
      this.freed();
    };
  }
}
