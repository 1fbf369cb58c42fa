/**
 * An async iterator written as a class (not a generator: no generator frame per event on the
 * device path) whose `throw` and disposal end it as `return` does. Subclasses define `next` and
 * `return`.
 */
export abstract class ClosingIterator<T> implements AsyncGenerator<T, void, unknown> {
  abstract next(): Promise<IteratorResult<T, void>>;
  abstract return(): Promise<IteratorResult<T, void>>;

  async throw(cause: unknown): Promise<IteratorResult<T, void>> {
    await this.return();
    throw cause;
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  async [Symbol.asyncDispose](): Promise<void> {
    await this.return();
  }
}

/** The result of an iterator that has ended. */
export const iteratorDone = <T>(): IteratorResult<T, void> => ({ value: undefined, done: true });
