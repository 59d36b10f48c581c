import { defineQueue, type JobQueue } from '@saldo/jobs';
import { z } from '@saldo/config';
import type { ModelRegistry } from './registry.js';

/** One training run (durable; one waiting and one running at a time, whatever asked for it). */
export const trainModelQueue = defineQueue({
  name: 'usage-forecast.train-model',
  payload: z.object({ reason: z.enum(['startup', 'interval', 'drift', 'manual']) }),
  policy: 'stately',
  retry: { limit: 2, delaySeconds: 60, backoff: true },
  expireInSeconds: 1800,
  heartbeatSeconds: 60,
});

/** Every minute: is a training due (none yet, MODEL_UPDATE_INTERVAL passed, the active version drifted)? */
export const modelMaintenanceQueue = defineQueue({
  name: 'usage-forecast.model-maintenance',
  payload: z.object({}),
  policy: 'short',
  retry: { limit: 0 },
  expireInSeconds: 60,
});

/** Every hour: anomalies of the hour (and day) that ended, the drift check, depletion warnings. */
export const hourlyMonitorQueue = defineQueue({
  name: 'usage-forecast.hourly-monitor',
  payload: z.object({ hourEnd: z.iso.datetime().optional() }),
  policy: 'short',
  retry: { limit: 2, delaySeconds: 60 },
  expireInSeconds: 1800,
});

export const TRAINING_KEY = 'forecast-model';

/** Decides when the model is retrained; the training itself is the train-model job's. */
export class ModelLifecycle {
  constructor(
    private readonly registry: ModelRegistry,
    private readonly jobs: JobQueue,
    private readonly intervalSeconds: number,
    private readonly now: () => Date = () => new Date(),
  ) {}

  /**
   * Sends a training job when one is due; returns the reason, or null. A newest version this code cannot serve (an
   * older release's features) counts as none: after an upgrade the new model trains at once, not an interval later.
   */
  async maintain(): Promise<'startup' | 'interval' | 'drift' | null> {
    const [latest] = await this.registry.list(1);
    const reason = !latest?.compatible
      ? 'startup'
      : latest.driftFlaggedAt && latest.active
        ? 'drift'
        : this.now().getTime() - latest.trainedAt.getTime() >= this.intervalSeconds * 1000
          ? 'interval'
          : null;
    if (reason) await this.request(reason);
    return reason;
  }

  /**
   * Whether a training run, or a maintenance pass that may request one, is waiting anywhere or running on this
   * instance (a newer version may still be registered).
   */
  async trainingPending(): Promise<boolean> {
    const queues = [trainModelQueue, modelMaintenanceQueue];
    if (this.jobs.activity().some((worker) => worker.running > 0 && queues.some((queue) => queue.name === worker.queue))) return true;
    const waiting = await Promise.all([
      this.jobs.find(trainModelQueue, { queued: true, limit: 1 }),
      this.jobs.find(modelMaintenanceQueue, { queued: true, limit: 1 }),
    ]);
    return waiting.some((jobs) => jobs.length > 0);
  }

  /** Enqueues a training run (deduplicated: at most one waiting). */
  async request(reason: 'startup' | 'interval' | 'drift' | 'manual'): Promise<string | null> {
    return this.jobs.send(trainModelQueue, { reason }, { singletonKey: TRAINING_KEY });
  }
}
