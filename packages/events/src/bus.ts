import type { Logger } from '@saldo/service';
import type { EventEnvelope, Topic } from './contracts.js';

export type EventHandler = (event: EventEnvelope) => Promise<void>;

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

/**
 * Where relayed events go. `publish` resolves once the events are durably handed over
 * (a broker ack for Kafka; for the in-process bus, once every subscriber has handled them).
 */
export interface EventBus {
  publish(events: readonly EventEnvelope[]): Promise<void>;
  /** Subscribes a consumer group; within a group each event is handled once per delivery. */
  subscribe(topic: Topic, group: string, handler: EventHandler, options?: SubscribeOptions): Unsubscribe;
  close(): Promise<void>;
}

/**
 * The embedded default's bus: one process, no broker. Delivery is synchronous with publish, so a failing
 * handler fails the publish and the relay retries later (at-least-once, like Kafka; consumers are idempotent).
 */
export class InProcessEventBus implements EventBus {
  private readonly subscriptions = new Map<string, Map<string, EventHandler>>();

  constructor(private readonly logger: Logger) {}

  /**
   * Each consumer group gets the batch's events of its topics in order, one after another; groups run side by
   * side, as separate Kafka consumer groups would, so a slow consumer (say, aggregation writes) never delays
   * another (the live balance feed). Resolves when every group handled every event; rejects if any failed.
   */
  async publish(events: readonly EventEnvelope[]): Promise<void> {
    const perGroup = new Map<string, { handler: EventHandler; events: EventEnvelope[] }>();
    for (const event of events) {
      for (const [group, handler] of this.subscriptions.get(event.topic) ?? []) {
        const key = `${event.topic}|${group}`;
        const queue = perGroup.get(key) ?? { handler, events: [] };
        queue.events.push(event);
        perGroup.set(key, queue);
      }
    }
    const outcomes = await Promise.allSettled(
      [...perGroup].map(async ([key, { handler, events: queued }]) => {
        for (const event of queued) {
          try {
            await handler(event);
          } catch (error) {
            this.logger.error('event handler failed', { group: key.split('|')[1], type: event.type, id: event.id, error });
            throw error;
          }
        }
      }),
    );
    const failure = outcomes.find((outcome): outcome is PromiseRejectedResult => outcome.status === 'rejected');
    if (failure) throw failure.reason;
  }

  subscribe(topic: Topic, group: string, handler: EventHandler, options: SubscribeOptions = {}): () => void {
    const groups = this.subscriptions.get(topic) ?? new Map<string, EventHandler>();
    if (groups.has(group)) throw new Error(`Consumer group ${group} already subscribed to ${topic}`);
    groups.set(group, handler);
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
}
