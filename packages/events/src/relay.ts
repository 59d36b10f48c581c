import type { EntityManager } from '@mikro-orm/postgresql';
import { WorkLoop, type Logger } from '@saldo/service';
import type { EventBus } from './bus.js';
import { toEnvelope } from './outbox.js';
import { startPublishSpans } from './tracing.js';

export interface OutboxSource {
  name: string;
  /** A fresh EntityManager on the database holding this outbox. */
  em(): EntityManager;
}

export interface OutboxRelayOptions {
  sources: readonly OutboxSource[];
  bus: EventBus;
  logger: Logger;
  /** Safety-net poll; commits also `poke()` the relay so events normally leave at once. */
  pollIntervalMs?: number;
  batchSize?: number;
  /**
   * After a failed pass (the bus is down, say) the relay retries after the poll interval, doubled per
   * consecutive failure up to this cap; pokes do not shorten the wait. Default 15 s.
   */
  maxRetryDelayMs?: number;
  /** Told, per published event, the seconds from its occurrence to its publication (the relay-lag histogram). */
  observeLag?: (seconds: number) => void;
}

/** Lock key: one relay at a time per outbox database, which keeps per-key order across relay instances. */
const RELAY_LOCK = 0x5a1d0_002;

/**
 * After finding another instance's relay on the lock, look again this soon: that relay may have locked its
 * rows before our commit and not see our events, and our pokes do not reach it.
 */
const CONTENDED_RETRY_MS = 20;

interface PassResult {
  /** Events published. */
  count: number;
  /** A whole batch was published: more may be waiting. */
  full: boolean;
  /** Another relay held the outbox's lock. */
  contended: boolean;
}

/**
 * Moves committed outbox rows to the bus and marks them published in the same transaction that locked them.
 * If publishing fails the transaction rolls back and the rows are retried: nothing committed is lost,
 * and a crash between publish and commit can only re-send (consumers deduplicate by event id).
 *
 * Runs as a WorkLoop (@saldo/service): commits poke it, a poll is the safety net, and passes continue while there is
 * work (after a full batch, or when a commit poked during the pass), so under load each pass carries what
 * accumulated during the previous one (few round trips per event), and an idle relay does one pass per poke.
 */
export class OutboxRelay {
  private readonly batchSize: number;
  private readonly loop: WorkLoop;

  constructor(private readonly options: OutboxRelayOptions) {
    const pollIntervalMs = options.pollIntervalMs ?? 500;
    this.batchSize = options.batchSize ?? 500;
    this.loop = new WorkLoop({
      name: 'outbox relay',
      pollIntervalMs,
      maxRetryDelayMs: options.maxRetryDelayMs ?? 15_000,
      logger: options.logger,
      pass: async () => {
        const result = await this.passAll();
        return { handled: result.count, more: result.full, ...(result.contended ? { retryInMs: CONTENDED_RETRY_MS } : {}) };
      },
    });
  }

  start(): void {
    this.loop.start();
  }

  async stop(): Promise<void> {
    await this.loop.stop();
  }

  /** Ask for a pass now (called after a commit that enqueued events). */
  poke(): void {
    this.loop.poke();
  }

  /** Publishes everything pending right now; resolves when the outboxes are empty (tests, shutdown). */
  async flush(): Promise<void> {
    await this.loop.drain();
  }

  private async passAll(): Promise<PassResult> {
    const results = await Promise.all(this.options.sources.map((source) => this.pass(source)));
    return {
      count: results.reduce((sum, result) => sum + result.count, 0),
      full: results.some((result) => result.full),
      contended: results.some((result) => result.contended),
    };
  }

  private async pass(source: OutboxSource): Promise<PassResult> {
    const em = source.em();
    // Most passes of a quiet service find nothing (the safety-net poll, every source of every subgraph process):
    // one statement on the unpublished index, outside a transaction, instead of begin, lock, read and commit. A row
    // committed just after this look is in the same place as one committed after the locked read's snapshot: its
    // writer's poke (or the next poll) brings another pass.
    const [pending] = await em.execute<Array<{ pending: boolean }>>('select exists (select 1 from outbox_event where published_at is null) as pending');
    if (!pending?.pending) return { count: 0, full: false, contended: false };
    return em.transactional(async (tx) => {
      // Lock first, then read in a statement of its own: a statement reads the snapshot taken when it started, so a
      // read in the locking statement could start before another relay committed its pass and take the lock just
      // after (the lock is released at that commit), then see those rows as unpublished and publish them again.
      const [lock] = await tx.execute<Array<{ locked: boolean }>>('select pg_try_advisory_xact_lock(?) as locked', [RELAY_LOCK]);
      if (!lock?.locked) return { count: 0, full: false, contended: true };
      const events = await tx.execute<Array<Parameters<typeof toEnvelope>[0]>>(
        'select seq, id, topic, key, type, version, payload, occurred_at, traceparent from outbox_event where published_at is null order by seq limit ?',
        [this.batchSize],
      );
      if (events.length === 0) return { count: 0, full: false, contended: false };
      const envelopes = events.map(toEnvelope);
      const endSpans = startPublishSpans(envelopes);
      try {
        await this.options.bus.publish(envelopes);
      } catch (error) {
        endSpans?.(error);
        throw error;
      }
      endSpans?.();
      if (this.options.observeLag) {
        const now = Date.now();
        for (const row of events) this.options.observeLag(Math.max(0, now - new Date(row.occurred_at).getTime()) / 1000);
      }
      await tx.execute('update outbox_event set published_at = now(), attempts = attempts + 1 where id in (?)', [events.map((row) => row.id)]);
      this.options.logger.debug('relayed events', { source: source.name, count: events.length });
      return { count: events.length, full: events.length >= this.batchSize, contended: false };
    });
  }
}
