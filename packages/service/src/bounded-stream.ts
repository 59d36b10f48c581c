/**
 * A bounded, drop-oldest queue read as an async iterator: one subscriber's results (the gateway's subscriber streams,
 * billing's live balance streams).
 *
 * Producers never wait: `push` appends and returns. The reader pulls at its own pace (a transport awaits each
 * WebSocket send or the SSE response's drain), so a slow reader's items pile up here, and only here: beyond `capacity`
 * the oldest buffered item is dropped in favour of the newer ones. For streams of state (a balance) the latest item is
 * what matters; the producer and the other readers never wait for this one. Unlike an async generator, `return()`
 * ends it at once even while the reader waits for the next item, so an unsubscribe always releases the stream.
 */
export class BoundedStream<T> implements AsyncIterableIterator<T> {
  private readonly items: T[] = [];
  private waiting: ((result: IteratorResult<T>) => void) | undefined;
  /** Set by `end`: the stream finishes once the buffered items are read. */
  private ending = false;
  private closed = false;
  /** Results dropped because the buffer was full. */
  dropped = 0;

  constructor(
    private readonly capacity: number,
    private readonly hooks: { onDrop?: () => void; onClose?: () => void } = {},
  ) {
    if (!(Number.isInteger(capacity) && capacity >= 1)) throw new RangeError(`capacity must be a positive integer, got ${capacity}`);
  }

  /** Results waiting for the client. */
  get buffered(): number {
    return this.items.length;
  }

  get isClosed(): boolean {
    return this.closed;
  }

  push(item: T): void {
    if (this.closed || this.ending) return;
    const waiting = this.waiting;
    if (waiting) {
      this.waiting = undefined;
      waiting({ value: item, done: false });
      return;
    }
    this.items.push(item);
    if (this.items.length > this.capacity) {
      this.items.shift();
      this.dropped += 1;
      this.hooks.onDrop?.();
    }
  }

  /** Finishes after the buffered items (and `last`, when given) are read. */
  end(last?: T): void {
    if (this.closed || this.ending) return;
    if (last !== undefined) this.push(last);
    this.ending = true;
    this.settleWaiting();
  }

  /** Finishes with `last` as the only remaining item: what is buffered is discarded (e.g. the caller's token expired). */
  terminate(last: T): void {
    if (this.closed || this.ending) return;
    this.items.length = 0;
    this.end(last);
  }

  next(): Promise<IteratorResult<T>> {
    const item = this.items.shift();
    if (item !== undefined) return Promise.resolve({ value: item, done: false });
    if (this.ending || this.closed) {
      this.close();
      return Promise.resolve({ value: undefined, done: true });
    }
    return new Promise((resolve) => {
      this.waiting = resolve;
    });
  }

  /** The client went away or unsubscribed. */
  return(): Promise<IteratorResult<T>> {
    this.close();
    return Promise.resolve({ value: undefined, done: true });
  }

  throw(error?: unknown): Promise<IteratorResult<T>> {
    this.close();
    return Promise.reject(error instanceof Error ? error : new Error(String(error)));
  }

  [Symbol.asyncIterator](): this {
    return this;
  }

  private settleWaiting(): void {
    if (!this.waiting || this.items.length > 0) return;
    const waiting = this.waiting;
    this.waiting = undefined;
    this.close();
    waiting({ value: undefined, done: true });
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.items.length = 0;
    const waiting = this.waiting;
    this.waiting = undefined;
    waiting?.({ value: undefined, done: true });
    this.hooks.onClose?.();
  }
}
