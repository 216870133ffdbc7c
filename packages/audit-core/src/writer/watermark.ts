/**
 * flush()'s watermark. Every entry belongs to the epoch in which it was recorded; flush() closes
 * the current epoch and resolves once no entry of it or of an earlier epoch is still outstanding
 * — written, dead-lettered, or (at close) spilled. Entries recorded after the call belong to
 * later epochs, so sustained traffic cannot keep a flush waiting.
 * Entries waiting only on disk (spilled now, or left by an earlier process, epoch 0) are counted
 * by the writer until their spool segment is deleted.
 */
export class Watermark {
  /** Epoch 0 holds what an earlier process left in the spool. */
  private epoch = 1;
  private readonly outstanding = new Map<number, number>();
  private waiters: Array<{ readonly epoch: number; readonly resolve: () => void }> = [];

  /** The epoch an entry recorded now belongs to. */
  get current(): number {
    return this.epoch;
  }

  /** A flush is waiting. */
  get waiting(): boolean {
    return this.waiters.length > 0;
  }

  add(epoch: number, count = 1): void {
    this.outstanding.set(epoch, (this.outstanding.get(epoch) ?? 0) + count);
  }

  settle(epoch: number, count = 1): void {
    const left = (this.outstanding.get(epoch) ?? 0) - count;
    if (left > 0) {
      this.outstanding.set(epoch, left);
      return;
    }
    this.outstanding.delete(epoch);
    if (this.waiters.length > 0) this.wake();
  }

  /** Closes the current epoch: resolves once it and every earlier one are settled. */
  mark(): Promise<void> {
    const epoch = this.epoch++;
    if (this.reached(epoch)) return Promise.resolve();
    return new Promise((resolve) => this.waiters.push({ epoch, resolve }));
  }

  /** At close, once everything left is spilled: every waiting flush resolves. */
  releaseAll(): void {
    for (const w of this.waiters.splice(0)) w.resolve();
  }

  private reached(epoch: number): boolean {
    for (const key of this.outstanding.keys()) if (key <= epoch) return false;
    return true;
  }

  private wake(): void {
    const still: typeof this.waiters = [];
    for (const w of this.waiters) {
      if (this.reached(w.epoch)) w.resolve();
      else still.push(w);
    }
    this.waiters = still;
  }
}
