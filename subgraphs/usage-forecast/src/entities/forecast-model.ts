import { Entity, Index, PrimaryKey, Property } from '@mikro-orm/decorators/legacy';

/**
 * The model registry (control database): every trained forecaster version with its training window, features,
 * validation metrics, the reference distribution drift is measured against, and its serialized weights. Exactly
 * one version is active at a time; every instance serves the active one.
 */
@Entity({ tableName: 'forecast_model' })
@Index({ name: 'forecast_model_one_active', expression: 'create unique index "forecast_model_one_active" on "forecast_model" ("active") where "active"' })
export class ForecastModel {
  @PrimaryKey({ type: 'integer' })
  version!: number;

  @Property({ type: 'boolean' })
  active!: boolean;

  /** startup | interval | drift | manual */
  @Property({ type: 'text' })
  reason!: string;

  @Property({ type: 'timestamptz' })
  trainedAt!: Date;

  @Property({ type: 'date' })
  trainingFrom!: string;

  @Property({ type: 'date' })
  trainingTo!: string;

  @Property({ type: 'integer' })
  series!: number;

  /** Feature names in input order. */
  @Property({ type: 'jsonb' })
  features!: string[];

  /** The forecaster's spec (horizon, layers, holidays, calibration). */
  @Property({ type: 'jsonb' })
  spec!: object;

  /** The training run's report: validation accuracy of the forecaster, the network alone and the baselines. */
  @Property({ type: 'jsonb' })
  metrics!: object;

  /** WAPE (1-7 days ahead) of the served forecaster on the training run's validation origins. */
  @Property({ type: 'double precision' })
  backtestWape!: number;

  /** Reference input distribution (PSI bins) the drift monitor compares live inputs against. */
  @Property({ type: 'jsonb' })
  reference!: object;

  @Property({ type: 'jsonb' })
  topology!: object;

  @Property({ type: 'jsonb' })
  weightSpecs!: object[];

  @Property({ type: 'blob' })
  weights!: Buffer;

  @Property({ type: 'integer' })
  trainingMs!: number;

  @Property({ type: 'text' })
  backend!: string;

  /** Set when the drift monitor flagged this version; retraining follows. */
  @Property({ type: 'timestamptz', nullable: true })
  driftFlaggedAt: Date | null = null;

  @Property({ type: 'text', nullable: true })
  driftReason: string | null = null;
}
