import type { Logger } from '@saldo/service';
import type { EventEnvelope, Topic } from './contracts.js';
import { consumeInTrace } from './tracing.js';

export type EventHandler = (event: EventEnvelope) => Promise<void>;

/**
 * Handles several events of one topic at once, in order (for Kafka: consecutive messages of one partition). The
 * whole batch counts as handled only when the promise resolves; if it rejects, every event of it is delivered
 * again, so a batch handler must be idempotent for the whole batch (`consumeOnceMany` makes a batch of
 * non-idempotent effects safe in one transaction).
 */
export type BatchEventHandler = (events: readonly EventEnvelope[]) => Promise<void>;

/** Ends a subscription; the promise (where there is one) resolves once its consumer has stopped. */
export type Unsubscribe = () => void | Promise<void>;

/** How a consumer group joins a topic. */
export interface SubscribeOptions {
  /**
   * Where a group without committed offsets starts: `earliest` (default: every retained event, what durable
   * consumers need) or `latest` (only events published from now on: live feeds with a consumer group per process,
   * which would otherwise replay the whole topic on every start).
   */
  startAt?: 'earliest' | 'latest';
  /** Called once the consumer is positioned: every event published afterwards reaches the handler. */
  onReady?: () => void;
}

export interface BatchSubscribeOptions extends SubscribeOptions {
  /** Most events per handler call. */
  maxBatchSize?: number;
}

export const DEFAULT_MAX_BATCH_SIZE = 500;

/** Splits `items` into consecutive chunks of at most `size`. */
function chunk<T>(items: readonly T[], size: number): T[][] {
  const chunks: T[][] = [];
  for (let start = 0; start < items.length; start += size) chunks.push(items.slice(start, start + size));
  return chunks;
}

/**
 * Where relayed events go. `publish` resolves once the events are durably handed over
 * (a broker ack for Kafka; for the in-process bus, once every subscriber has handled them).
 */
export interface EventBus {
  publish(events: readonly EventEnvelope[]): Promise<void>;
  /** Subscribes a consumer group; within a group each event is handled once per delivery. */
  subscribe(topic: Topic, group: string, handler: EventHandler, options?: SubscribeOptions): Unsubscribe;
  /**
   * Like `subscribe`, but hands the group whatever arrived together (up to `maxBatchSize` events, default 500):
   * consumers whose per-event cost is a database round trip pay it once per batch instead.
   */
  subscribeBatch(topic: Topic, group: string, handler: BatchEventHandler, options?: BatchSubscribeOptions): Unsubscribe;
  close(): Promise<void>;
  /** Messages each consumer group has yet to handle, per topic (Kafka: high watermark less committed position). */
  consumerLag?(): ConsumerLag[];
}

export interface ConsumerLag {
  topic: string;
  group: string;
  messages: number;
}

/**
 * The embedded default's bus: one process, no broker. Delivery is synchronous with publish, so a failing
 * handler fails the publish and the relay retries later (at-least-once, like Kafka; consumers are idempotent).
 */
export class InProcessEventBus implements EventBus {
  /** Per topic, per consumer group: the group's batch handler (per-event handlers are wrapped). */
  private readonly subscriptions = new Map<string, Map<string, { handler: BatchEventHandler; maxBatchSize: number }>>();

  constructor(private readonly logger: Logger) {}

  /**
   * Each consumer group gets the batch's events of its topics in order, one after another; groups run side by
   * side, as separate Kafka consumer groups would, so a slow consumer (say, aggregation writes) never delays
   * another (the live balance feed). Resolves when every group handled every event; rejects if any failed.
   */
  async publish(events: readonly EventEnvelope[]): Promise<void> {
    const perGroup = new Map<string, { handler: BatchEventHandler; maxBatchSize: number; events: EventEnvelope[] }>();
    for (const event of events) {
      for (const [group, subscription] of this.subscriptions.get(event.topic) ?? []) {
        const key = `${event.topic}|${group}`;
        const queue = perGroup.get(key) ?? { ...subscription, events: [] };
        queue.events.push(event);
        perGroup.set(key, queue);
      }
    }
    const outcomes = await Promise.allSettled(
      [...perGroup].map(async ([key, { handler, maxBatchSize, events: queued }]) => {
        for (const batch of chunk(queued, maxBatchSize)) {
          try {
            await consumeInTrace(batch[0]!.topic, key.split('|')[1]!, batch, () => handler(batch));
          } catch (error) {
            this.logger.error('event handler failed', {
              group: key.split('|')[1],
              types: [...new Set(batch.map((event) => event.type))],
              ids: batch.map((event) => event.id),
              error,
            });
            throw error;
          }
        }
      }),
    );
    const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failure) throw failure.reason;
  }

  subscribe(topic: Topic, group: string, handler: EventHandler, options: SubscribeOptions = {}): () => void {
    return this.subscribeBatch(
      topic,
      group,
      async (events) => {
        for (const event of events) await handler(event);
      },
      options,
    );
  }

  subscribeBatch(topic: Topic, group: string, handler: BatchEventHandler, options: BatchSubscribeOptions = {}): () => void {
    const groups = this.subscriptions.get(topic) ?? new Map<string, { handler: BatchEventHandler; maxBatchSize: number }>();
    // As on Kafka (KafkaEventBus), a consumer group is one subscription: the same name on two topics is refused
    // here too, so a wiring that would fail on Kafka fails in the in-process tests first.
    for (const [subscribed, others] of this.subscriptions) {
      if (others.has(group)) throw new Error(`Consumer group ${group} already subscribed to ${subscribed}`);
    }
    groups.set(group, { handler, maxBatchSize: options.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE });
    this.subscriptions.set(topic, groups);
    // Delivery happens inside publish: a group sees every event published after this call, so it is ready now.
    if (options.onReady) queueMicrotask(options.onReady);
    return () => {
      groups.delete(group);
    };
  }

  async close(): Promise<void> {
    this.subscriptions.clear();
  }

  /** Delivery happens inside publish, so nothing ever waits here (the backlog is the outbox's). */
  consumerLag(): ConsumerLag[] {
    return [...this.subscriptions].flatMap(([topic, groups]) => [...groups.keys()].map((group) => ({ topic, group, messages: 0 })));
  }
}
