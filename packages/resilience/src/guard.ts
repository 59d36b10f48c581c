import { SpanKind, withSpan } from '@saldo/service';
import {
  BrokenCircuitError,
  CircuitState,
  ConsecutiveBreaker,
  TaskCancelledError,
  TimeoutStrategy,
  circuitBreaker,
  handleWhen,
  timeout,
  wrap,
  type CircuitBreakerPolicy,
  type IPolicy,
} from 'cockatiel';
import { GraphQLError } from 'graphql';

/** The stable code (extensions.code) of a call refused because its dependency is failing or did not answer in time. */
export const DEPENDENCY_UNAVAILABLE = 'DEPENDENCY_UNAVAILABLE';

export type BreakerState = 'closed' | 'open' | 'half-open';

/**
 * A dependency refused the call without trying (its circuit is open) or did not answer within its timeout. A GraphQL
 * error with the stable code DEPENDENCY_UNAVAILABLE, so it reaches a client unchanged wherever it is thrown; callers
 * that are not at the GraphQL edge (workers, the outbox relay) treat it as "try again later".
 */
export class DependencyUnavailableError extends GraphQLError {
  constructor(
    readonly dependency: string,
    readonly reason: 'circuit-open' | 'timeout',
    /** When the circuit lets the next trial call through (circuit-open only). */
    readonly retryAfterMs: number | null,
  ) {
    super(
      reason === 'timeout'
        ? `${dependency} did not answer in time; nothing was changed by this request. Retry later.`
        : `${dependency} is unavailable (failing fast while it recovers); nothing was changed by this request. Retry later.`,
      { extensions: { code: DEPENDENCY_UNAVAILABLE, dependency, reason, ...(retryAfterMs !== null ? { retryAfterMs } : {}) } },
    );
    this.name = 'DependencyUnavailableError';
  }
}

export function isDependencyUnavailable(error: unknown): error is DependencyUnavailableError {
  return error instanceof DependencyUnavailableError || (error as { extensions?: { code?: unknown } })?.extensions?.code === DEPENDENCY_UNAVAILABLE;
}

/** How one dependency's circuit behaves (from the owning service's zod config: `<PREFIX>_BREAKER_*`). */
export interface BreakerSettings {
  /** Consecutive failed calls that open the circuit. */
  failureThreshold: number;
  /** How long an open circuit refuses calls before it lets one trial call through (half-open). */
  halfOpenAfterMs: number;
}

export interface DependencyGuardOptions extends BreakerSettings {
  /** Name in errors, logs and the state metric: `stripe`, `subgraph:billing`, `smtp`, `acme`, `kafka`, ... */
  dependency: string;
  /** A span per call when tracing (default true); false where the caller opens its own (the gateway's subgraph client). */
  traced?: boolean;
  /**
   * Longest a whole call may take; past it the call is abandoned (its AbortSignal fires), counted as a failure and
   * answered DEPENDENCY_UNAVAILABLE. Unset: only the client's own timeouts apply.
   */
  timeoutMs?: number;
  /** Which thrown errors say the dependency is failing (default: all). A declined card or a 4xx is not. */
  isFailure?: (error: unknown) => boolean;
  /** Which returned values say the dependency is failing, for clients that answer failures as values (default: none). */
  isFailureResult?: (result: unknown) => boolean;
  /** Where the state is reported (default: the process-wide `dependencyBreakers`). */
  registry?: BreakerRegistry | null;
}

const STATE: Record<CircuitState, BreakerState> = {
  [CircuitState.Closed]: 'closed',
  [CircuitState.HalfOpen]: 'half-open',
  [CircuitState.Open]: 'open',
  // Isolation is manual and never used here; it refuses calls like an open circuit.
  [CircuitState.Isolated]: 'open',
};

/**
 * A circuit breaker and a timeout around every call to one dependency (cockatiel). Closed: calls pass; a call that
 * fails in a way `isFailure` counts (or times out) adds to the consecutive failures, a success resets them. After
 * `failureThreshold` in a row the circuit opens: calls fail at once with DependencyUnavailableError, without touching
 * the dependency. After `halfOpenAfterMs` one trial call goes through (others still fail fast): success closes the
 * circuit, failure opens it again. The call's own errors pass through unchanged while the circuit is closed.
 */
export class DependencyGuard {
  readonly dependency: string;
  private readonly breaker: CircuitBreakerPolicy;
  private readonly policy: IPolicy;
  private readonly listeners = new Set<(state: BreakerState) => void>();
  private openedAt = 0;

  constructor(private readonly options: DependencyGuardOptions) {
    this.dependency = options.dependency;
    const isFailure = options.isFailure ?? (() => true);
    const counts = handleWhen((error) => error instanceof TaskCancelledError || isFailure(error));
    const handled = options.isFailureResult ? counts.orWhenResult(options.isFailureResult) : counts;
    this.breaker = circuitBreaker(handled, {
      halfOpenAfter: options.halfOpenAfterMs,
      breaker: new ConsecutiveBreaker(options.failureThreshold),
    });
    this.breaker.onBreak(() => (this.openedAt = Date.now()));
    this.breaker.onStateChange((state) => {
      for (const listener of this.listeners) listener(STATE[state]);
    });
    this.policy = options.timeoutMs ? wrap(this.breaker, timeout(options.timeoutMs, TimeoutStrategy.Aggressive)) : this.breaker;
    if (options.registry !== null) (options.registry ?? dependencyBreakers).add(this);
  }

  get state(): BreakerState {
    return STATE[this.breaker.state];
  }

  /** Called with every change of state (open, half-open, closed). Returns the unsubscribe function. */
  onStateChange(listener: (state: BreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Runs `call` through the breaker and timeout. `signal` fires when the timeout abandons the call: pass it to the
   * client where it takes one. Throws DependencyUnavailableError when the circuit is open or the call timed out.
   */
  async execute<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    // A CLIENT span per call inside a sampled operation (Stripe, SMTP, webhooks, ACME, Kafka): one boolean when tracing
    // is off; background work outside any trace opens none (it would only add root spans of its own).
    if (this.options.traced === false) return this.run(call);
    return withSpan(
      this.dependency,
      SpanKind.CLIENT,
      () => ({ 'saldo.dependency': this.dependency }),
      () => this.run(call),
    );
  }

  private async run<T>(call: (signal: AbortSignal) => Promise<T>): Promise<T> {
    try {
      return await this.policy.execute(({ signal }) =>
        call(signal).catch((error: unknown) => {
          // A call that gave up because its timeout aborted it is a timeout, whatever error the client made of it.
          throw signal.aborted ? new TaskCancelledError(`${this.dependency} timed out`) : error;
        }),
      );
    } catch (error) {
      if (error instanceof BrokenCircuitError) {
        const retryAfterMs = Math.max(0, this.openedAt + this.options.halfOpenAfterMs - Date.now());
        throw new DependencyUnavailableError(this.dependency, 'circuit-open', retryAfterMs);
      }
      if (error instanceof TaskCancelledError) throw new DependencyUnavailableError(this.dependency, 'timeout', null);
      throw error;
    }
  }

  /** Stops reporting this guard's state (a guard of a pool that was evicted, a stopped client). */
  dispose(): void {
    this.listeners.clear();
    dependencyBreakers.remove(this);
    this.options.registry?.remove(this);
  }
}

/**
 * Guards created on demand per target of one kind (webhook receivers by host): each target has its own circuit, so one
 * failing receiver never stops deliveries to the others. At most `maxTargets` are kept (least recently used go first);
 * the pool reports as one dependency (how many of its circuits are open), never per target.
 */
export class DependencyGuardPool {
  private readonly guards = new Map<string, DependencyGuard>();

  constructor(
    readonly dependency: string,
    private readonly options: Omit<DependencyGuardOptions, 'dependency' | 'registry'> & { maxTargets?: number; registry?: BreakerRegistry | null },
  ) {
    if (options.registry !== null) (options.registry ?? dependencyBreakers).add(this);
  }

  guard(target: string): DependencyGuard {
    let guard = this.guards.get(target);
    if (guard) {
      // Most recently used last (Map keeps insertion order).
      this.guards.delete(target);
      this.guards.set(target, guard);
      return guard;
    }
    guard = new DependencyGuard({ ...this.options, dependency: `${this.dependency}:${target}`, registry: null });
    this.guards.set(target, guard);
    const max = this.options.maxTargets ?? 1_000;
    while (this.guards.size > max) {
      const oldest = this.guards.keys().next().value as string;
      this.guards.get(oldest)?.dispose();
      this.guards.delete(oldest);
    }
    return guard;
  }

  /** Circuits kept and how many of them are not closed. */
  counts(): { circuits: number; open: number } {
    let open = 0;
    for (const guard of this.guards.values()) if (guard.state !== 'closed') open += 1;
    return { circuits: this.guards.size, open };
  }
}

export interface BreakerReading {
  dependency: string;
  /** A single guard's state; for a pool, `open` when any of its circuits is not closed. */
  state: BreakerState;
  /** 0 closed, 1 half-open, 2 open: the value of a state gauge. */
  value: 0 | 1 | 2;
  /** Circuits behind the reading (1 for a single guard) and how many are not closed. */
  circuits: number;
  open: number;
}

const VALUE: Record<BreakerState, 0 | 1 | 2> = { closed: 0, 'half-open': 1, open: 2 };

/**
 * Every breaker of the process, for the metrics endpoint: `read()` at scrape time gives one reading per dependency,
 * `onStateChange` tells of every transition (the hook a gauge or a log line hangs on).
 */
export class BreakerRegistry {
  private readonly members = new Set<DependencyGuard | DependencyGuardPool>();
  private readonly listeners = new Set<(dependency: string, state: BreakerState) => void>();
  private readonly unsubscribes = new Map<DependencyGuard, () => void>();

  add(member: DependencyGuard | DependencyGuardPool): void {
    this.members.add(member);
    if (member instanceof DependencyGuard) {
      this.unsubscribes.set(
        member,
        member.onStateChange((state) => {
          for (const listener of this.listeners) listener(member.dependency, state);
        }),
      );
    }
  }

  remove(member: DependencyGuard | DependencyGuardPool): void {
    this.members.delete(member);
    if (member instanceof DependencyGuard) {
      this.unsubscribes.get(member)?.();
      this.unsubscribes.delete(member);
    }
  }

  read(): BreakerReading[] {
    return [...this.members].map((member) => {
      if (member instanceof DependencyGuard) {
        const open = member.state === 'closed' ? 0 : 1;
        return { dependency: member.dependency, state: member.state, value: VALUE[member.state], circuits: 1, open };
      }
      const { circuits, open } = member.counts();
      const state: BreakerState = open > 0 ? 'open' : 'closed';
      return { dependency: member.dependency, state, value: VALUE[state], circuits, open };
    });
  }

  /** Every state change of a single guard (pools' per-target circuits are not reported one by one). */
  onStateChange(listener: (dependency: string, state: BreakerState) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
}

/** The process's breakers (what `/metrics` reads). */
export const dependencyBreakers = new BreakerRegistry();
