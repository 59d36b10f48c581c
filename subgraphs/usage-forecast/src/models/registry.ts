import type { ShardedDatabase } from '@saldo/sharding';
import { dayOfNumber } from '../domain/days.js';
import type { PsiReference } from '../drift/drift.js';
import { FEATURE_NAMES, type Forecaster, type ForecasterSpec, type SerializedForecaster, type TrainingReport } from '../forecasting/index.js';

/** A registered model version without its weights. */
export interface ModelVersionInfo {
  version: number;
  active: boolean;
  reason: string;
  trainedAt: Date;
  trainingFrom: string;
  trainingTo: string;
  series: number;
  backtestWape: number;
  trainingMs: number;
  backend: string;
  driftFlaggedAt: Date | null;
  driftReason: string | null;
  metrics: TrainingReport['validation'] | null;
  /** False for a version trained on other features than this code builds (an older release's): it cannot be served. */
  compatible: boolean;
}

export interface DriftReferenceData {
  /** The trend input's distribution at training time. */
  trend: PsiReference;
}

interface InfoRow {
  version: number;
  active: boolean;
  reason: string;
  trained_at: Date;
  training_from: string;
  training_to: string;
  series: number;
  backtest_wape: number;
  training_ms: number;
  backend: string;
  drift_flagged_at: Date | null;
  drift_reason: string | null;
  metrics: { validation?: TrainingReport['validation'] } | null;
  features: string[] | null;
}

const INFO_COLUMNS = `version, active, reason, trained_at, to_char(training_from, 'YYYY-MM-DD') as training_from, to_char(training_to, 'YYYY-MM-DD') as training_to,
  series, backtest_wape, training_ms, backend, drift_flagged_at, drift_reason, metrics, features`;

/**
 * The model registry in the control database (`forecast_model`): every trained version with its window, features,
 * metrics, drift reference and serialized weights. Activation swaps the single active flag in one transaction.
 */
export class ModelRegistry {
  constructor(private readonly db: ShardedDatabase) {}

  /** Stores a trained forecaster as a new version (inactive); returns its version number. */
  async register(forecaster: Forecaster, report: TrainingReport, reference: DriftReferenceData, reason: string, trainedAt: Date): Promise<number> {
    const serialized = await forecaster.serialize();
    const [row] = await this.db.globalEm().execute<{ version: number }[]>(
      `insert into forecast_model (active, reason, trained_at, training_from, training_to, series, features, spec, metrics, backtest_wape, reference,
                                   topology, weight_specs, weights, training_ms, backend)
       values (false, ?, ?, ?::date, ?::date, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?::jsonb, ?::jsonb, ?::jsonb, ?, ?, ?) returning version`,
      [
        reason,
        trainedAt,
        dayOfNumber(report.window.from),
        dayOfNumber(report.window.to),
        report.series,
        JSON.stringify(FEATURE_NAMES),
        JSON.stringify(serialized.spec),
        JSON.stringify({
          validation: report.validation,
          trainingRows: report.trainingRows,
          fineTuneRows: report.fineTuneRows,
          epochs: report.epochs,
          loss: report.loss,
          cutoff: dayOfNumber(report.cutoff),
        }),
        report.validation.combined.wape,
        JSON.stringify(reference),
        JSON.stringify(serialized.network.topology),
        JSON.stringify(serialized.network.weightSpecs),
        Buffer.from(serialized.network.weights),
        report.milliseconds,
        report.backend,
      ],
    );
    return row!.version;
  }

  /** Makes `version` the one active version (every instance picks it up on its next poll). */
  async activate(version: number): Promise<void> {
    await this.db.globalEm().transactional(async (tx) => {
      await tx.execute('update forecast_model set active = false where active and version <> ?', [version], 'run');
      await tx.execute('update forecast_model set active = true where version = ?', [version], 'run');
    });
  }

  async activeVersion(): Promise<number | null> {
    const [row] = await this.db.globalEm().execute<{ version: number }[]>('select version from forecast_model where active');
    return row?.version ?? null;
  }

  /** The stored forecaster and drift reference of a version. */
  async load(version: number): Promise<{ info: ModelVersionInfo; serialized: SerializedForecaster; reference: DriftReferenceData } | null> {
    const [row] = await this.db.globalEm().execute<
      (InfoRow & {
        spec: ForecasterSpec;
        topology: object;
        weight_specs: SerializedForecaster['network']['weightSpecs'];
        weights: Buffer;
        reference: DriftReferenceData;
      })[]
    >(`select ${INFO_COLUMNS}, spec, topology, weight_specs, weights, reference from forecast_model where version = ?`, [version]);
    if (!row) return null;
    return {
      info: toInfo(row),
      serialized: { spec: row.spec, network: { topology: row.topology, weightSpecs: row.weight_specs, weights: new Uint8Array(row.weights) } },
      reference: row.reference,
    };
  }

  /** Versions, newest first. */
  async list(limit = 10): Promise<ModelVersionInfo[]> {
    const rows = await this.db.globalEm().execute<InfoRow[]>(`select ${INFO_COLUMNS} from forecast_model order by version desc limit ?`, [limit]);
    return rows.map(toInfo);
  }

  /** Flags a version as drifted (once; the first flag's time and reason stay). Returns true when newly flagged. */
  async flagDrift(version: number, reason: string, at: Date): Promise<boolean> {
    const result = await this.db
      .globalEm()
      .execute('update forecast_model set drift_flagged_at = ?, drift_reason = ? where version = ? and drift_flagged_at is null', [at, reason, version], 'run');
    return (result as { affectedRows?: number }).affectedRows !== 0;
  }
}

function toInfo(row: InfoRow): ModelVersionInfo {
  return {
    version: row.version,
    active: row.active,
    reason: row.reason,
    trainedAt: new Date(row.trained_at),
    trainingFrom: row.training_from,
    trainingTo: row.training_to,
    series: row.series,
    backtestWape: row.backtest_wape,
    trainingMs: row.training_ms,
    backend: row.backend,
    driftFlaggedAt: row.drift_flagged_at ? new Date(row.drift_flagged_at) : null,
    driftReason: row.drift_reason,
    metrics: row.metrics?.validation ?? null,
    compatible: JSON.stringify(row.features) === JSON.stringify(FEATURE_NAMES),
  };
}
