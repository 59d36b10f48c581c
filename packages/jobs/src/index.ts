export { defineQueue, type AnyQueueDefinition, type JobPolicy, type PayloadOf, type QueueDefinition, type QueueOptions, type RetryPolicy } from './queue.js';
export { deterministicJobId } from './job-id.js';
export {
  DEFAULT_JOB_SETTINGS,
  JobQueue,
  type JobQueueOptions,
  type JobSettings,
  type JobState,
  type JobStatus,
  type QueueDepth,
  type SendOptions,
} from './job-queue.js';
export { schedule, work, type JobContext, type JobHandler, type JobSchedule, type JobWorker, type WorkerOptions } from './worker.js';
// Test seam: pg-boss's hand-driven clock (JobQueueOptions.clock), so tests move schedules and timers without waiting.
export { TestClock, type Clock } from 'pg-boss';
