import { parseArgs } from 'node:util';
import { dayNumber, utcDay } from './domain/days.js';
import { backtest, parseHistoryCsv, syntheticUsage, type AccuracyReport, type DailySeries } from './forecasting/index.js';
import { readFile } from 'node:fs/promises';

// `pnpm forecast:backtest [--series 2000] [--days 180] [--seed 7] [--input HISTORY.csv]`: rolling-origin backtest of
// the production forecaster against the baselines on synthetic tenants (or on a history file), printed as a table.

const { values } = parseArgs({
  options: {
    series: { type: 'string', default: '2000' },
    days: { type: 'string', default: '180' },
    seed: { type: 'string', default: '7' },
    holdout: { type: 'string', default: '28' },
    input: { type: 'string' },
  },
});

function positive(name: string, value: string): number {
  const number = Number(value);
  if (!Number.isSafeInteger(number) || number < 1) {
    process.stderr.write(`forecast:backtest: --${name} must be a positive integer (got "${value}")\n`);
    process.exit(2);
  }
  return number;
}

const holdoutDays = positive('holdout', values.holdout);
let series: DailySeries[];
let holidays;
let source: string;
if (values.input) {
  series = parseHistoryCsv(await readFile(values.input, 'utf8')).series;
  source = values.input;
} else {
  const data = syntheticUsage({
    series: positive('series', values.series),
    days: positive('days', values.days),
    lastDay: dayNumber(utcDay(new Date())) - 1,
    seed: positive('seed', values.seed),
  });
  series = data.series;
  holidays = data.holidays;
  source = `synthetic: ${series.length} tenants x ${values.days} days, seed ${values.seed}`;
}

const result = await backtest(series, { holdoutDays, horizon: 7, training: { holidays } });
const row = (name: string, report: AccuracyReport) =>
  `${name.padEnd(26)} ${pct(report.accuracy)} ${pct(report.wape)} ${report.mase.toFixed(3).padStart(7)} ${pct(report.coverage)} ${report.relativeWidth.toFixed(2).padStart(7)}`;
function pct(value: number): string {
  return `${(value * 100).toFixed(1)} %`.padStart(9);
}
const training = result.training;
process.stdout.write(
  [
    `Backtest (${source}); ${result.origins} weekly origins over the last ${holdoutDays} days, 1-7 days ahead, ${result.forecaster.points} points`,
    `training: ${training.series} series, ${training.trainingRows} + ${training.fineTuneRows} windows, ${training.epochs} epochs, ${(training.milliseconds / 1000).toFixed(1)} s on ${training.backend}`,
    `blend weights per horizon day (network/profile/median4): ${training.calibration.modelWeight
      .slice(0, 7)
      .map((model, index) => `${model}/${training.calibration.profileWeight[index] ?? 0}/${1 - model - (training.calibration.profileWeight[index] ?? 0)}`)
      .join(' ')}`,
    '',
    `${'method'.padEnd(26)} ${'1-WAPE'.padStart(9)} ${'WAPE'.padStart(9)} ${'MASE'.padStart(7)} ${'cover80'.padStart(9)} ${'width'.padStart(7)}`,
    row('forecaster (production)', result.forecaster),
    row('network alone', result.model),
    row('weekday profile x level', result.profile),
    row('median of 4 same weekdays', result.median4),
    row('seasonal naive', result.seasonalNaive),
    '',
  ].join('\n'),
);
