import {
  Kafka,
  Partitioners,
  logLevel as KafkaLogLevel,
  type BrokersFunction,
  type Consumer,
  type EachBatchPayload,
  type KafkaMessage,
  type LogEntry,
  type Message,
  type Producer,
  type RetryOptions,
} from 'kafkajs';
import { DependencyGuard, isDependencyUnavailable, type BreakerSettings } from '@saldo/resilience';
import type { Logger } from '@saldo/service';
import {
  DEFAULT_MAX_BATCH_SIZE,
  type BatchEventHandler,
  type BatchSubscribeOptions,
  type ConsumerLag,
  type EventBus,
  type EventHandler,
  type SubscribeOptions,
  type Unsubscribe,
} from './bus.js';
import { envelopeSchema, type EventEnvelope, type Topic } from './contracts.js';
import { consumeInTrace } from './tracing.js';

/** Message headers set on every event (the value is the JSON envelope, which carries the same data). */
export const EventHeader = {
  Id: 'event-id',
  Type: 'event-type',
  Version: 'event-version',
} as const;

export interface KafkaEventBusOptions {
  /** Seed brokers (`host:port`), or a function kafkajs asks again whenever it has to (re)connect. */
  brokers: string[] | BrokersFunction;
  clientId: string;
  logger: Logger;
  /**
   * kafkajs retry policy for connecting, producing and committing. The relay holds its outbox transaction
   * while a publish retries, so the default gives up after a few seconds and lets the relay retry later.
   */
  retry?: RetryOptions;
  /** Socket connect timeout per broker (ms). */
  connectionTimeoutMs?: number;
  /** Redelivery backoff after a handler failed on a partition: first delay, doubled per failure up to max. */
  handlerRetryMs?: { initial: number; max: number };
  /** Longest a consumer fetch waits for new messages; lower means faster shutdown and delivery in tests. */
  maxWaitTimeMs?: number;
  /** Consumer group session timeout (ms): how long the broker waits before it reassigns a silent member's partitions. */
  sessionTimeoutMs?: number;
  /** Partitions of one subscription handled at once (order holds within each partition). */
  partitionsConsumedConcurrently?: number;
  /**
   * Longest a consumer's stop waits to leave its group gracefully (default 5 s). A consumer caught in a rebalance
   * (a join waiting for the other members) would otherwise hold a shutdown for the whole rebalance or session
   * timeout; past this bound the process goes on stopping and the coordinator drops the member by its session
   * timeout. Nothing is lost: offsets are committed only after their batch was handled, and consumers are idempotent.
   */
  stopTimeoutMs?: number;
  /**
   * Idempotent producer (default true): the brokers drop a batch kafkajs re-sends after a lost ack. kafkajs
   * asks the cluster's controller for a producer id, and librdkafka's mock cluster names a controller (0)
   * that is none of its brokers, so tests against the mock turn this off; per-key order does not depend on
   * it (one request in flight per broker either way).
   */
  idempotent?: boolean;
  /**
   * The producer's circuit breaker and timeout: a publish that takes longer than `publishTimeoutMs` (kafkajs' own
   * retries included) is abandoned; `failureThreshold` failed publishes in a row open the circuit and publishes fail
   * at once (DEPENDENCY_UNAVAILABLE: the relay keeps the rows and tries again) until a trial publish `halfOpenAfterMs`
   * later succeeds.
   */
  breaker?: BreakerSettings & { publishTimeoutMs: number };
}

const DEFAULT_BREAKER = { failureThreshold: 5, halfOpenAfterMs: 5_000, publishTimeoutMs: 15_000 };

const DEFAULT_RETRY: RetryOptions = { initialRetryTime: 100, maxRetryTime: 2_000, retries: 5 };

/**
 * The full stack's bus: Kafka through kafkajs.
 *
 * Producing: one idempotent producer (acks = all, one request in flight per broker, so a retried batch never
 * overtakes the next one). Each event is a message keyed by its envelope key (the tenant id) with the JSON
 * envelope as value; the default (murmur2, Java-compatible) partitioner maps a key to one partition, so one
 * tenant's events keep their order. `publish` resolves only once the brokers acknowledged every message; the
 * relay marks outbox rows published only then. A batch that fails part-way is published again as a whole by
 * the relay (duplicates are possible, losses are not: consumers deduplicate by event id).
 *
 * Consuming: one kafkajs consumer per subscription (consumer group), offsets committed by hand and only
 * after the handler resolved for a message (so a crash re-delivers, never skips). A failing handler pauses
 * its partition and the same message is delivered again after a growing backoff; later messages of that
 * partition wait (order holds), other partitions go on. A new group starts at the earliest retained offset.
 *
 * Topics are created by the brokers on first use (auto-create); the consumers ask for that too, so a consumer
 * may subscribe before anything was produced. Partition count is the broker's default for new topics
 * (`num.partitions`, 12 in docker-compose.yml; librdkafka's mock cluster uses 4); it must not change while a
 * topic is in use, because adding partitions moves keys and breaks per-tenant order for in-flight events.
 */
export class KafkaEventBus implements EventBus {
  private readonly kafka: Kafka;
  private readonly producer: Producer;
  private producerConnected: Promise<void> | undefined;
  private readonly subscriptions = new Map<string, KafkaSubscription>();
  private closed = false;
  /** The producer's circuit breaker (`kafka`). */
  readonly guard: DependencyGuard;

  constructor(private readonly options: KafkaEventBusOptions) {
    const breaker = options.breaker ?? DEFAULT_BREAKER;
    this.guard = new DependencyGuard({
      dependency: 'kafka',
      failureThreshold: breaker.failureThreshold,
      halfOpenAfterMs: breaker.halfOpenAfterMs,
      timeoutMs: breaker.publishTimeoutMs,
    });
    this.kafka = new Kafka({
      clientId: options.clientId,
      brokers: options.brokers,
      connectionTimeout: options.connectionTimeoutMs ?? 3_000,
      retry: options.retry ?? DEFAULT_RETRY,
      logLevel: KafkaLogLevel.INFO,
      logCreator: kafkaLogCreator(options.logger),
    });
    this.producer = this.kafka.producer({
      idempotent: options.idempotent ?? true,
      maxInFlightRequests: 1,
      allowAutoTopicCreation: true,
      createPartitioner: Partitioners.DefaultPartitioner,
    });
  }

  async publish(events: readonly EventEnvelope[]): Promise<void> {
    if (this.closed) throw new Error('KafkaEventBus is closed');
    if (events.length === 0) return;
    const byTopic = new Map<string, Message[]>();
    for (const event of events) {
      const messages = byTopic.get(event.topic) ?? [];
      messages.push(toMessage(event));
      byTopic.set(event.topic, messages);
    }
    try {
      await this.guard.execute(async () => {
        await this.connectProducer();
        await this.producer.sendBatch({
          acks: -1,
          topicMessages: [...byTopic].map(([topic, messages]) => ({ topic, messages })),
        });
      });
    } catch (error) {
      // An open circuit never touched the producer. Anything else (a failure, or a publish abandoned at its timeout):
      // start the next attempt from a clean connection (and fresh broker metadata).
      if (!(isDependencyUnavailable(error) && error.reason === 'circuit-open')) {
        this.producerConnected = undefined;
        await this.producer.disconnect().catch(() => undefined);
      }
      throw error;
    }
  }

  /** One message at a time: its offset is committed once its handler resolved. */
  subscribe(topic: Topic, group: string, handler: EventHandler, subscribeOptions: SubscribeOptions = {}): Unsubscribe {
    return this.subscribeBatch(topic, group, ([event]) => handler(event!), { ...subscribeOptions, maxBatchSize: 1 });
  }

  /** Consecutive messages of one partition (from one fetch) at a time; offsets committed after the handler resolved. */
  subscribeBatch(topic: Topic, group: string, handler: BatchEventHandler, subscribeOptions: BatchSubscribeOptions = {}): Unsubscribe {
    if (this.closed) throw new Error('KafkaEventBus is closed');
    if (this.subscriptions.has(group)) throw new Error(`Consumer group ${group} already subscribed`);
    const subscription = new KafkaSubscription(this.kafka, topic, group, handler, this.options, subscribeOptions);
    this.subscriptions.set(group, subscription);
    subscription.start();
    return async () => {
      if (this.subscriptions.get(group) === subscription) this.subscriptions.delete(group);
      await subscription.stop();
    };
  }

  consumerLag(): ConsumerLag[] {
    return [...this.subscriptions.values()].map((subscription) => ({
      topic: subscription.topic,
      group: subscription.group,
      messages: [...subscription.lag.values()].reduce((sum, lag) => sum + lag, 0),
    }));
  }

  /** Stops every consumer (each finishes and commits the message in hand) and disconnects the producer. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const subscriptions = [...this.subscriptions.values()];
    this.subscriptions.clear();
    await Promise.all(subscriptions.map((subscription) => subscription.stop()));
    this.producerConnected = undefined;
    await this.producer.disconnect().catch((error: unknown) => this.options.logger.warn('kafka producer disconnect failed', { error }));
    this.guard.dispose();
  }

  private connectProducer(): Promise<void> {
    if (!this.producerConnected) {
      const connecting = this.producer.connect();
      this.producerConnected = connecting;
      connecting.catch(() => {
        if (this.producerConnected === connecting) this.producerConnected = undefined;
      });
    }
    return this.producerConnected;
  }
}

function toMessage(event: EventEnvelope): Message {
  return {
    key: event.key,
    value: JSON.stringify(event),
    headers: {
      [EventHeader.Id]: event.id,
      [EventHeader.Type]: event.type,
      [EventHeader.Version]: String(event.version),
      // W3C trace context as Kafka instrumentations expect it (also inside the envelope, which consumers read).
      ...(event.traceparent ? { traceparent: event.traceparent } : {}),
    },
  };
}

/** One consumer group's consumer; restarts itself (with backoff) when kafkajs gives up, until stopped. */
class KafkaSubscription {
  private consumer: Consumer | undefined;
  private starting: Promise<void> | undefined;
  private restartTimer: NodeJS.Timeout | undefined;
  private restarts = 0;
  private stopped = false;
  private readyNotified = false;
  private readonly resumeTimers = new Set<NodeJS.Timeout>();
  /** Consecutive handler failures per partition (reset by a success). */
  private readonly failures = new Map<number, number>();
  /** Per partition, messages behind the high watermark after the last batch handled (consumer lag). */
  readonly lag = new Map<number, number>();
  private readonly logger: Logger;
  private readonly maxBatchSize: number;

  constructor(
    private readonly kafka: Kafka,
    readonly topic: Topic,
    readonly group: string,
    private readonly handler: BatchEventHandler,
    private readonly options: KafkaEventBusOptions,
    private readonly subscribeOptions: BatchSubscribeOptions = {},
  ) {
    this.logger = options.logger;
    this.maxBatchSize = Math.max(1, subscribeOptions.maxBatchSize ?? DEFAULT_MAX_BATCH_SIZE);
  }

  start(): void {
    if (this.stopped) return;
    this.starting = this.run().catch((error: unknown) => {
      this.logger.warn('kafka consumer failed to start; retrying', { group: this.group, topic: this.topic, error });
      void this.restart();
    });
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.restartTimer) clearTimeout(this.restartTimer);
    for (const timer of this.resumeTimers) clearTimeout(timer);
    this.resumeTimers.clear();
    const graceful = (async () => {
      await this.starting;
      // Waits for the batch in hand: the current message finishes and its offset is committed.
      await this.consumer?.disconnect().catch((error: unknown) => this.logger.warn('kafka consumer disconnect failed', { group: this.group, error }));
    })();
    const stopTimeoutMs = this.options.stopTimeoutMs ?? 5_000;
    let timer: NodeJS.Timeout | undefined;
    const left = await Promise.race([
      graceful.then(() => true),
      new Promise<false>((resolve) => {
        timer = setTimeout(() => resolve(false), stopTimeoutMs);
      }),
    ]);
    clearTimeout(timer);
    if (!left) {
      this.logger.warn('kafka consumer did not leave its group in time (a rebalance in progress); the coordinator drops it by its session timeout', {
        group: this.group,
        stopTimeoutMs,
      });
    }
    this.consumer = undefined;
  }

  private async run(): Promise<void> {
    const consumer = this.kafka.consumer({
      groupId: this.group,
      allowAutoTopicCreation: true,
      maxWaitTimeInMs: this.options.maxWaitTimeMs ?? 1_000,
      sessionTimeout: this.options.sessionTimeoutMs ?? 30_000,
      heartbeatInterval: Math.min(3_000, Math.floor((this.options.sessionTimeoutMs ?? 30_000) / 3)),
    });
    this.consumer = consumer;
    consumer.on(consumer.events.GROUP_JOIN, () => {
      this.restarts = 0;
    });
    this.watchReadiness(consumer);
    consumer.on(consumer.events.CRASH, ({ payload }) => {
      // kafkajs restarts by itself after retriable errors; after the others it stays down, so we restart it.
      if (!payload.restart && !this.stopped) {
        this.logger.error('kafka consumer crashed; restarting', { group: this.group, error: payload.error });
        void this.restart();
      }
    });
    await consumer.connect();
    await consumer.subscribe({ topics: [this.topic], fromBeginning: (this.subscribeOptions.startAt ?? 'earliest') === 'earliest' });
    await consumer.run({
      autoCommit: false,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: this.options.partitionsConsumedConcurrently ?? 1,
      eachBatch: (payload) => this.eachBatch(payload),
    });
  }

  /**
   * `onReady` fires once the group is positioned: kafkajs resolves a partition's starting offset (committed, or
   * earliest/latest for a new group) inside the first fetch from that partition's leader, and its fetch loop
   * starts one fetcher per broker at once. So after joining, once every broker that began a fetch has finished
   * one, every assigned partition has its offset and any event published afterwards will be consumed.
   */
  private watchReadiness(consumer: Consumer): void {
    const onReady = this.subscribeOptions.onReady;
    if (!onReady || this.readyNotified) return;
    let joined = false;
    const started = new Set<number>();
    const finished = new Set<number>();
    const removers: Array<() => void> = [];
    const done = (): void => {
      this.readyNotified = true;
      for (const remove of removers) remove();
      onReady();
    };
    removers.push(
      consumer.on(consumer.events.GROUP_JOIN, () => {
        joined = true;
        started.clear();
        finished.clear();
      }),
      consumer.on(consumer.events.FETCH_START, ({ payload }) => {
        if (joined) started.add((payload as { nodeId: number }).nodeId);
      }),
      consumer.on(consumer.events.FETCH, ({ payload }) => {
        if (!joined || this.readyNotified) return;
        const nodeId = (payload as { nodeId: number }).nodeId;
        if (!started.has(nodeId)) return;
        finished.add(nodeId);
        if ([...started].every((id) => finished.has(id))) done();
      }),
    );
  }

  private async restart(): Promise<void> {
    if (this.stopped) return;
    const consumer = this.consumer;
    this.consumer = undefined;
    await consumer?.disconnect().catch(() => undefined);
    if (this.stopped) return;
    const retry = this.options.retry ?? DEFAULT_RETRY;
    const delay = Math.min(retry.maxRetryTime ?? 30_000, (retry.initialRetryTime ?? 300) * 2 ** Math.min(this.restarts, 10));
    this.restarts += 1;
    this.restartTimer = setTimeout(() => this.start(), delay);
    this.restartTimer.unref();
  }

  /**
   * Hands the fetched messages to the handler in offset order, up to `maxBatchSize` at a time. The offset after the
   * last handled message is committed when the batch ends (also when it ends early: stop, rebalance, handler
   * failure), never before the handler resolved; a crash in between re-delivers at most the handled messages.
   * A failing handler call pauses the partition; its messages are delivered again after a growing backoff.
   */
  private async eachBatch({ batch, resolveOffset, heartbeat, pause, commitOffsetsIfNecessary, isRunning, isStale }: EachBatchPayload): Promise<void> {
    const { topic, partition } = batch;
    let commitOffset: string | undefined;
    let pending: EventEnvelope[] = [];
    let lastOffset: string | undefined;
    /** Runs the handler on what is pending; false when it failed (the partition is paused for a retry). */
    const handlePending = async (): Promise<boolean> => {
      if (lastOffset === undefined) return true;
      if (pending.length > 0) {
        try {
          await consumeInTrace(this.topic, this.group, pending, () => this.handler(pending));
        } catch (error) {
          this.onHandlerFailure(pending, partition, pause, error);
          return false;
        }
      }
      this.failures.delete(partition);
      resolveOffset(lastOffset);
      commitOffset = (BigInt(lastOffset) + 1n).toString();
      pending = [];
      lastOffset = undefined;
      await heartbeat();
      return true;
    };
    try {
      for (const message of batch.messages) {
        if (!isRunning() || isStale() || this.stopped) return;
        const event = this.decode(message, partition);
        if (event) pending.push(event);
        lastOffset = message.offset;
        if (pending.length >= this.maxBatchSize && !(await handlePending())) return;
      }
      if (!isRunning() || isStale() || this.stopped) return;
      await handlePending();
      this.lag.set(partition, Number(batch.offsetLag()));
    } finally {
      if (commitOffset !== undefined) {
        await commitOffsetsIfNecessary({ topics: [{ topic, partitions: [{ partition, offset: commitOffset }] }] });
      }
    }
  }

  /** Logs the failure and pauses the partition; after the backoff the consumer fetches again from the first unhandled message. */
  private onHandlerFailure(events: readonly EventEnvelope[], partition: number, pause: EachBatchPayload['pause'], error: unknown): void {
    const attempt = (this.failures.get(partition) ?? 0) + 1;
    this.failures.set(partition, attempt);
    const retryInMs = this.retryDelay(attempt);
    const single = events.length === 1;
    this.logger.error(single ? 'event handler failed; the message will be delivered again' : 'event handler failed; the messages will be delivered again', {
      group: this.group,
      topic: this.topic,
      partition,
      ...(single
        ? { id: events[0]!.id, type: events[0]!.type }
        : { ids: events.map((event) => event.id), types: [...new Set(events.map((event) => event.type))] }),
      attempt,
      retryInMs,
      error,
    });
    const resume = pause();
    const timer = setTimeout(() => {
      this.resumeTimers.delete(timer);
      resume();
    }, retryInMs);
    timer.unref();
    this.resumeTimers.add(timer);
  }

  /** An undecodable message can never succeed: it is logged and skipped rather than blocking its partition. */
  private decode(message: KafkaMessage, partition: number): EventEnvelope | undefined {
    try {
      return envelopeSchema.parse(JSON.parse(message.value?.toString('utf8') ?? 'null'));
    } catch (error) {
      this.logger.error('skipping undecodable event message', { group: this.group, topic: this.topic, partition, offset: message.offset, error });
      return undefined;
    }
  }

  private retryDelay(attempt: number): number {
    const { initial, max } = this.options.handlerRetryMs ?? { initial: 200, max: 30_000 };
    return Math.min(max, initial * 2 ** Math.min(attempt - 1, 20));
  }
}

/** Routes kafkajs logging through ours: its errors are mostly transient (and retried), so they log as warnings. */
function kafkaLogCreator(logger: Logger) {
  const kafkaLogger = logger.child('kafka');
  return () =>
    ({ namespace, level, log }: LogEntry): void => {
      const { message, timestamp: _timestamp, logger: _logger, stack: _stack, ...extra } = log as LogEntry['log'] & { stack?: unknown; logger?: unknown };
      const fields = { namespace, ...extra };
      // Bounded retries are deliberate: a publish that gives up is retried from the outbox by the relay, on a
      // fresh connection (new producer id), so no sequence state is reused; duplicates are handled by consumers.
      if (message.startsWith('Limiting retries for the idempotent producer')) kafkaLogger.debug(message, fields);
      else if (level === KafkaLogLevel.ERROR || level === KafkaLogLevel.WARN) kafkaLogger.warn(message, fields);
      else kafkaLogger.debug(message, fields);
    };
}
