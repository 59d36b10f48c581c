import type { Logger } from '@saldo/service';
import { Forecaster, baselineForecasts, type DailySeries, type SeriesForecast } from '../forecasting/index.js';
import type { DriftReferenceData, ModelRegistry, ModelVersionInfo } from './registry.js';

/** The forecaster an instance serves right now: a registered version, or the baseline (version 0) before any. */
export interface ServedModel {
  version: number;
  trainedAt: Date | null;
  backtestWape: number | null;
  /** Share of validation actuals inside the 80 % ranges (how far ranges and depletion dates can be trusted). */
  coverage: number | null;
  info: ModelVersionInfo | null;
  reference: DriftReferenceData | null;
  forecast(series: readonly DailySeries[], days: number): SeriesForecast[];
  forecastAt(items: ReadonlyArray<{ series: DailySeries; end: number }>, days: number): SeriesForecast[];
}

const BASELINE: ServedModel = {
  version: 0,
  trainedAt: null,
  backtestWape: null,
  coverage: null,
  info: null,
  reference: null,
  forecast: baselineForecasts,
  forecastAt: (items, days) =>
    baselineForecasts(
      items.map(({ series, end }) => ({ ...series, values: series.values.subarray(0, end + 1) })),
      days,
    ),
};

/**
 * Serves the registry's active version and swaps to a newly activated one without a restart: every instance polls
 * the active version number (one indexed read) and loads the new weights when it changes. Forecasting is
 * synchronous, so a request never sees a model disposed under it.
 */
export class ModelServing {
  private served: ServedModel = BASELINE;
  private forecaster: Forecaster | null = null;
  private timer: NodeJS.Timeout | undefined;
  private refreshing: Promise<void> | undefined;
  private readonly listeners = new Set<(model: ServedModel) => void>();

  constructor(
    private readonly registry: ModelRegistry,
    private readonly logger: Logger,
    private readonly pollIntervalMs: number,
  ) {}

  current(): ServedModel {
    return this.served;
  }

  /** Called after every swap (forecast caches drop what the previous version computed). */
  onSwap(listener: (model: ServedModel) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  start(): void {
    void this.refresh();
    this.timer = setInterval(() => void this.refresh(), this.pollIntervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    await this.refreshing;
    this.forecaster?.dispose();
    this.forecaster = null;
    this.served = BASELINE;
  }

  /** Loads the active version if it is not the one served; concurrent calls share one refresh. */
  refresh(): Promise<void> {
    this.refreshing ??= this.load().finally(() => (this.refreshing = undefined));
    return this.refreshing;
  }

  private async load(): Promise<void> {
    try {
      const version = await this.registry.activeVersion();
      if (version === null || version === this.served.version) return;
      const stored = await this.registry.load(version);
      if (!stored) return;
      const forecaster = await Forecaster.load(stored.serialized);
      const previous = this.forecaster;
      this.forecaster = forecaster;
      this.served = {
        version,
        trainedAt: stored.info.trainedAt,
        backtestWape: stored.info.backtestWape,
        coverage: stored.info.metrics?.combined.coverage ?? null,
        info: stored.info,
        reference: stored.reference,
        forecast: (series, days) => forecaster.forecast(series, days),
        forecastAt: (items, days) => forecaster.forecastAt(items, days),
      };
      previous?.dispose();
      this.logger.info('serving forecast model', { version, trainedAt: stored.info.trainedAt.toISOString(), backtestWape: stored.info.backtestWape });
      for (const listener of this.listeners) listener(this.served);
    } catch (error) {
      this.logger.error('could not load the active forecast model; serving the previous one', { error: (error as Error).message });
    }
  }
}
