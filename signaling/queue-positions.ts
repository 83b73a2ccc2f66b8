/**
 * Waiting customers' places in the queue (S1), told only when they change and in batches: one
 * read of the queue's order per batch, at most one batch per `intervalMs` (issue 9). A change at the
 * head of a queue of a thousand moves a thousand places; twenty such changes a second must not send
 * twenty thousand messages, so a customer hears at most a few a second, each the latest.
 *
 * Only the customers connected to this process are told (`isHere`): every signaling node tells its
 * own, from the one shared order.
 */

export interface QueuePositionsDeps {
  /** Every waiting request in order, as of one queue version. */
  order(): Promise<{ version: number; requestIds: string[] }>;
  /** Is a connection of this process holding the request? */
  isHere(requestId: string): boolean;
  send(requestId: string, at: { position: number; version: number }): void;
  onError(err: unknown): void;
  /** @default 250 */
  intervalMs?: number;
  /** Milliseconds, monotonic. @default performance.now */
  now?: () => number;
}

export class QueuePositions {
  /** What each customer here was last told (or answered with). */
  private readonly told = new Map<string, { position: number; version: number }>();
  private timer: ReturnType<typeof setTimeout> | null = null;
  private dirty = false;
  private lastRun = Number.NEGATIVE_INFINITY;
  private closed = false;
  private readonly intervalMs: number;
  private readonly now: () => number;

  constructor(private readonly deps: QueuePositionsDeps) {
    this.intervalMs = deps.intervalMs ?? 250;
    this.now = deps.now ?? (() => performance.now());
  }

  /** The customer was answered with this place (its request, its resume): no need to repeat it. */
  answered(requestId: string, at: { position: number; version: number }): void {
    const before = this.told.get(requestId);
    // The two numbers only: callers pass answers that carry more (the request token among them).
    if (!before || at.version >= before.version) this.told.set(requestId, { position: at.position, version: at.version });
  }

  /** The queue changed in a way that may move customers (someone left it): tell them soon. */
  changed(): void {
    if (this.closed) return;
    this.dirty = true;
    if (this.timer) return;
    const wait = Math.max(0, this.lastRun + this.intervalMs - this.now());
    this.timer = setTimeout(() => void this.run(), wait);
  }

  private async run(): Promise<void> {
    this.lastRun = this.now();
    this.dirty = false;
    try {
      await this.tell();
    } catch (err) {
      this.deps.onError(err);
      this.dirty = true; // tried again at the next interval: nobody is left with a wrong place
    } finally {
      this.timer = null;
      // A change during the read above may not be in it: another batch, no sooner than the interval.
      if (this.dirty) this.changed();
    }
  }

  private async tell(): Promise<void> {
    const { version, requestIds } = await this.deps.order();
    const here = new Set<string>();
    requestIds.forEach((requestId, i) => {
      if (!this.deps.isHere(requestId)) return;
      here.add(requestId);
      const position = i + 1;
      const before = this.told.get(requestId);
      // An answer given after this read already knows better.
      if (before && before.version >= version) return;
      this.told.set(requestId, { position, version });
      if (before?.position !== position) this.deps.send(requestId, { position, version });
    });
    for (const requestId of this.told.keys()) if (!here.has(requestId)) this.told.delete(requestId);
  }

  close(): void {
    this.closed = true;
    if (this.timer) clearTimeout(this.timer);
    this.timer = null;
  }
}
