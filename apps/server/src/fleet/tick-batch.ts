/**
 * Collects items during one turn of the event loop and hands them over together at its end: a
 * storm of requests for the same kind of work becomes one batched call instead of one each.
 */
export class TickBatch<T> {
  private readonly pending = new Set<T>();

  constructor(private readonly flush: (items: T[]) => void) {}

  add(item: T): void {
    const first = this.pending.size === 0;
    this.pending.add(item);
    if (!first) return;
    setImmediate(() => {
      const items = [...this.pending];
      this.pending.clear();
      this.flush(items);
    });
  }
}
