/**
 * How many attempts this process may have in flight at once (STEP_COMPLETE_CONCURRENCY), without a
 * queue. Invariants, held here and nowhere else:
 * - a slot is taken before the claim that may fill it goes to the database, so the claims under
 *   way and the attempts in flight never exceed the limit together;
 * - whoever took a slot gives it back exactly once: the claimer every slot its claim did not fill
 *   (`returnUnfilled`, quietly: nothing new is known), the attempt when it has been sent and
 *   recorded or could not be made (`attemptEnded`, which calls the listener — the scheduler — to
 *   look for due work);
 * - giving back more than was taken is a bug and throws, so the count never goes below zero;
 * - once closed (shutdown), no slot is free and the listener is not called.
 */
export class Slots {
  private taken = 0;
  private closed = false;
  private freed: () => void = () => undefined;

  constructor(readonly limit: number) {}

  get free(): number {
    return this.closed ? 0 : this.limit - this.taken;
  }

  get inUse(): number {
    return this.taken;
  }

  /** Takes up to `wanted` free slots; how many it got (0 when none is free). */
  take(wanted: number): number {
    const granted = Math.max(0, Math.min(wanted, this.free));
    this.taken += granted;
    return granted;
  }

  /** Slots a claim took but did not fill. */
  returnUnfilled(count: number): void {
    this.giveBack(count);
  }

  /** The attempt holding one slot is over. */
  attemptEnded(): void {
    this.giveBack(1);
    if (!this.closed) this.freed();
  }

  /** Called whenever an attempt ends. */
  onFreed(listener: () => void): void {
    this.freed = listener;
  }

  close(): void {
    this.closed = true;
  }

  private giveBack(count: number): void {
    if (count > this.taken) {
      throw new Error(`Giving back ${count} slot(s) when only ${this.taken} are taken`);
    }
    this.taken -= Math.max(0, count);
  }
}
