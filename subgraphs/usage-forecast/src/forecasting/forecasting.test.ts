import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { dayNumber, dayOfNumber } from '../domain/days.js';
import { depletionDate, daysUntilFloor } from '../depletion/depletion.js';
import {
  backtest,
  baselineForecasts,
  CsvError,
  formatForecastCsv,
  HolidayCalendar,
  parseHistoryCsv,
  profileForecast,
  syntheticUsage,
  trainForecaster,
  type DailySeries,
  type Forecaster,
} from './index.js';

const LAST_DAY = dayNumber('2026-06-30');
const CLI = fileURLToPath(new URL('../forecast-cli.js', import.meta.url));

describe('depletion dates (hand-computed)', () => {
  const flat = (minor: bigint, days = 90) => Array.from({ length: days }, () => minor);
  const scenario = (costs: bigint[]) => ({ high: costs, median: costs, low: costs });

  it('spends the balance down to zero: 100.00 at 30.00 a day runs out on day 3 (today = day 0)', () => {
    // After day 0: 70.00, day 1: 40.00, day 2: 10.00, day 3: -20.00 -> the balance reaches zero during day 3.
    assert.equal(daysUntilFloor({ balanceMinor: 10_000n, floorMinor: 0n, autoTopUp: null }, flat(3_000n)), 3);
    const depletion = depletionDate({
      today: '2026-07-01',
      balanceMinor: 10_000n,
      floorMinor: 0n,
      costs: scenario(flat(3_000n)),
      autoTopUp: null,
      reliability: 0.8,
    });
    assert.deepEqual(depletion, { date: '2026-07-04', earliest: '2026-07-04', latest: '2026-07-04', confidence: 0.8 });
    // Exactly reaching zero counts as run out: 90.00 at 30.00 a day -> day 2.
    assert.equal(daysUntilFloor({ balanceMinor: 9_000n, floorMinor: 0n, autoTopUp: null }, flat(3_000n)), 2);
  });

  it('an overdraft limit moves the date: the balance may fall to minus the limit', () => {
    // 100.00 + 50.00 overdraft at 30.00 a day: -50.00 is reached at the end of day 4.
    assert.equal(daysUntilFloor({ balanceMinor: 10_000n, floorMinor: -5_000n, autoTopUp: null }, flat(3_000n)), 4);
    // A tenant already at its floor has run out today.
    assert.equal(daysUntilFloor({ balanceMinor: -5_000n, floorMinor: -5_000n, autoTopUp: null }, flat(3_000n)), 0);
  });

  it('auto-top-up: a fixed amount on each crossing of the threshold, within the daily cap', () => {
    const rule = { thresholdMinor: 2_000n, mode: 'FIXED_AMOUNT' as const, amountMinor: 5_000n, dailyCapMinor: 5_000n };
    // Day 0: 100.00 -> 70.00; day 1: 40.00; day 2: crosses 20.00 at 20.00 -> +50.00 = 70.00, then -10.00 = 60.00;
    // day 3: 30.00; day 4: crosses -> 70.00 -> 60.00 ... one top-up (50.00 = the cap) a day keeps up with 30.00 a day.
    assert.equal(daysUntilFloor({ balanceMinor: 10_000n, floorMinor: 0n, autoTopUp: rule }, flat(3_000n)), null);
    // At 60.00 a day one 50.00 top-up a day is not enough. Day 0: 100.00 -> 40.00. Day 1: 40.00 -> 20.00 (crossing:
    // +50.00 = 70.00) -> 30.00. Day 2: 30.00 -> 20.00 (+50.00 = 70.00) -> 20.00 (crossing again, the cap is used: owed).
    // Day 3: the owed top-up (+50.00 = 70.00) -> 20.00 (crossing, no room) -> 10.00. Day 4: owed (+50.00 = 60.00) ->
    // 20.00 (no room) -> 0.00: run out on day 4, where without the rule it is day 1.
    assert.equal(daysUntilFloor({ balanceMinor: 10_000n, floorMinor: 0n, autoTopUp: rule }, flat(6_000n)), 4);
    assert.equal(daysUntilFloor({ balanceMinor: 10_000n, floorMinor: 0n, autoTopUp: null }, flat(6_000n)), 1);
  });

  it('auto-top-up TOP_UP_TO lifts the balance to the target; a cap without room leaves the day unfunded', () => {
    const rule = { thresholdMinor: 1_000n, mode: 'TOP_UP_TO' as const, amountMinor: 10_000n, dailyCapMinor: 100_000n };
    assert.equal(daysUntilFloor({ balanceMinor: 5_000n, floorMinor: 0n, autoTopUp: rule }, flat(4_000n)), null);
    const capped = { ...rule, dailyCapMinor: 5_000n };
    // 50.00 -> 10.00 at day 0's end (crossing: top-up to 100.00 would charge 90.00 > cap 50.00: nothing charged).
    // Day 1 owes the top-up but the cap still has no room (90.00 > 50.00): the balance reaches zero on day 1.
    assert.equal(daysUntilFloor({ balanceMinor: 5_000n, floorMinor: 0n, autoTopUp: capped }, flat(4_000n)), 1);
  });

  it('is null when the median forecast does not run out within 90 days, and the low end may stay open', () => {
    assert.equal(
      depletionDate({ today: '2026-07-01', balanceMinor: 1_000_000n, floorMinor: 0n, costs: scenario(flat(100n)), autoTopUp: null, reliability: 0.8 }),
      null,
    );
    const depletion = depletionDate({
      today: '2026-07-01',
      balanceMinor: 10_000n,
      floorMinor: 0n,
      costs: { high: flat(5_000n), median: flat(1_000n), low: flat(10n) },
      autoTopUp: null,
      reliability: 0.8,
    });
    // 100.00 at 10.00 a day reaches zero at the end of day 9, at 50.00 a day during day 1; 0.10 a day never within 90.
    assert.deepEqual(depletion, { date: '2026-07-10', earliest: '2026-07-02', latest: null, confidence: 0.6 });
  });
});

describe('the forecaster on synthetic tenants', () => {
  let data: DailySeries[];
  let forecaster: Forecaster;

  before(async () => {
    data = syntheticUsage({ series: 120, days: 120, lastDay: LAST_DAY, seed: 3 }).series;
    ({ forecaster } = await trainForecaster(data, { maxRows: 6_000, epochs: 3, seed: 5 }));
  });
  after(() => forecaster.dispose());

  it('a tenant whose usage doubles gets a higher forecast and runs out earlier', () => {
    const base = data.find((series) => series.values.length === 120 && series.values.slice(-28).reduce((a, b) => a + b, 0) > 28 * 50)!;
    const doubled: DailySeries = { ...base, id: 'doubled', values: base.values.map((value, index) => (index >= base.values.length - 21 ? value * 2 : value)) };
    const [steady, grown] = forecaster.forecast([base, doubled], 30);
    const sum = (values: Float64Array) => values.slice(0, 7).reduce((a, b) => a + b, 0);
    assert.ok(sum(grown!.quantity) > 1.5 * sum(steady!.quantity), `7-day forecast ${sum(grown!.quantity)} vs ${sum(steady!.quantity)}`);
    for (const forecast of [steady!, grown!]) {
      for (let day = 0; day < 30; day += 1) assert.ok(forecast.lower[day]! <= forecast.quantity[day]! && forecast.quantity[day]! <= forecast.upper[day]!);
    }
    const price = 15_000_000n; // 15 cents per unit, in millionths of a cent
    const costs = (quantities: Float64Array) => Array.from(quantities, (quantity) => BigInt(Math.round((quantity * Number(price)) / 1e6)));
    const balance = BigInt(Math.round(sum(steady!.quantity) * 3 * 15)); // about three weeks of the steady usage
    const date = (forecast: typeof steady) =>
      depletionDate({
        today: dayOfNumber(LAST_DAY + 1),
        balanceMinor: balance,
        floorMinor: 0n,
        costs: { high: costs(forecast!.upper), median: costs(forecast!.quantity), low: costs(forecast!.lower) },
        autoTopUp: null,
        reliability: 0.8,
      })!.date;
    assert.ok(date(grown) < date(steady), `depletion ${date(grown)} should come before ${date(steady)}`);
  });

  it("forecasts start the day after each series' last day, one row per day, ranges around the median", () => {
    const forecasts = forecaster.forecast(data.slice(0, 3), 7);
    const csv = formatForecastCsv(forecasts).trim().split('\n');
    assert.equal(csv[0], 'series_id,timestamp,forecast,lower,upper');
    assert.equal(csv.length, 1 + 3 * 7);
    assert.equal(csv[1]!.split(',')[1], dayOfNumber(LAST_DAY + 1));
  });
});

describe('the weekday profile x level forecast', () => {
  // Twelve weeks of an office rhythm (Mon-Fri 100, Sat 30, Sun 10) ending on a Sunday, 2026-06-28.
  const rhythm = [100, 100, 100, 100, 100, 30, 10];
  const office = (days: number, change: (index: number, value: number) => number = (_, value) => value): DailySeries => {
    const start = dayNumber('2026-06-28') - days + 1;
    return { id: 'office', start, values: Float64Array.from({ length: days }, (_, index) => change(index, rhythm[(start + index + 3) % 7]!)) };
  };
  const forecast = (series: DailySeries, holidays = HolidayCalendar.none) => {
    const out = new Float64Array(7);
    profileForecast(series, series.values.length - 1, holidays, 7, out);
    return [...out].map((value) => Math.round(value * 10) / 10);
  };

  it('repeats a steady weekly rhythm from Monday on', () => {
    assert.deepEqual(forecast(office(84)), rhythm);
  });

  it('is lifted by a one-day spike of 10^9 no more than the clip at twice the level allows', () => {
    const spiked = forecast(office(84, (index, value) => (index === 80 ? 1e9 : value)));
    spiked.forEach((value, index) => assert.ok(value >= rhythm[index]! && value <= rhythm[index]! * 1.1, spiked.join(' ')));
  });

  it('follows a tenant that stopped a week ago at once, and one that doubled', () => {
    assert.deepEqual(forecast(office(84, (index, value) => (index >= 77 ? 0 : value))), [0, 0, 0, 0, 0, 0, 0]);
    assert.deepEqual(
      forecast(office(84, (index, value) => (index >= 77 ? 2 * value : value))),
      rhythm.map((value) => 2 * value),
    );
  });

  it('serves before any model is trained (version 0), with a range around it', () => {
    const [served] = baselineForecasts([office(84)], 7);
    assert.deepEqual(
      [...served!.quantity].map((value) => Math.round(value * 10) / 10),
      rhythm,
    );
    served!.quantity.forEach((value, index) => assert.ok(served!.lower[index]! < value && value < served!.upper[index]!));
  });

  it("expects a configured holiday to look like the tenant's past holidays", () => {
    const holidays = HolidayCalendar.parse('2026-05-14,2026-07-01');
    // 2026-05-14 (a Thursday) had Sunday-like usage; 2026-07-01 (Wednesday, h = 3) is expected to, too.
    const series = office(84, (index, value) => (dayNumber('2026-06-28') - 83 + index === dayNumber('2026-05-14') ? 10 : value));
    assert.deepEqual(forecast(series, holidays), [100, 100, 10, 100, 100, 30, 10]);
  });
});

describe('rolling-origin backtest', () => {
  it('beats seasonal naive clearly and is at least as good as the median of four weeks, with honest ranges', async () => {
    const data = syntheticUsage({ series: 300, days: 150, lastDay: LAST_DAY, seed: 9 }).series;
    const result = await backtest(data, { holdoutDays: 14, training: { maxRows: 10_000, epochs: 3 } });
    assert.ok(result.forecaster.wape < result.seasonalNaive.wape * 0.9, `forecaster ${result.forecaster.wape} vs seasonal naive ${result.seasonalNaive.wape}`);
    assert.ok(result.forecaster.wape < result.median4.wape, `forecaster ${result.forecaster.wape} vs median4 ${result.median4.wape}`);
    assert.ok(result.forecaster.wape <= result.profile.wape * 1.02, `forecaster ${result.forecaster.wape} vs profile ${result.profile.wape}`);
    assert.ok(result.forecaster.coverage > 0.65 && result.forecaster.coverage < 0.95, `coverage ${result.forecaster.coverage}`);
    assert.equal(result.origins, 2);
  });
});

describe('history CSV and the offline CLI', () => {
  let dir: string;
  before(() => (dir = mkdtempSync(path.join(tmpdir(), 'saldo-forecast-'))));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('reports every malformed row with its line and returns nothing', () => {
    const text = 'series_id,timestamp,value\na,2026-01-01,3\na,2026-02-30,1\n,2026-01-02,1\nb,2026-01-01,-4\nb,2026-01-01,2,7\na,2026-01-01,5\n';
    assert.throws(
      () => parseHistoryCsv(text),
      (error: unknown) =>
        error instanceof CsvError && error.code === 'MALFORMED_CSV' && error.problems.map((problem) => problem.line).join(',') === '3,4,5,6,7',
    );
    assert.throws(
      () => parseHistoryCsv('id,day,value\n'),
      (error: unknown) => error instanceof CsvError && error.problems[0]!.line === 1,
    );
    const parsed = parseHistoryCsv('series_id,timestamp,value\n"x, y",2026-01-03,1\n"x, y",2026-01-01,2\n');
    assert.equal(parsed.filledDays, 1);
    assert.deepEqual([...parsed.series[0]!.values], [2, 0, 1]);
  });

  it('pnpm -s forecast: trains on the file and writes the horizon for every series; bad input exits 2 with the reasons', () => {
    const rows = ['series_id,timestamp,value'];
    for (const id of ['shop', 'clinic']) {
      for (let day = 0; day < 63; day += 1)
        rows.push(`${id},${dayOfNumber(dayNumber('2026-03-01') + day)},${(id === 'shop' ? 40 : 12) + (day % 7 === 5 ? -8 : 3) + (day % 3)}`);
    }
    const input = path.join(dir, 'history.csv');
    const output = path.join(dir, 'out.csv');
    writeFileSync(input, `${rows.join('\n')}\n`);
    const run = spawnSync(process.execPath, [CLI, '--input', input, '--horizon', '7', '--output', output], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    const out = readFileSync(output, 'utf8').trim().split('\n');
    assert.equal(out[0], 'series_id,timestamp,forecast,lower,upper');
    assert.equal(out.length, 15);
    assert.deepEqual(
      out.slice(1).map((line) => line.split(',')[1]),
      ['shop', 'clinic'].flatMap(() => Array.from({ length: 7 }, (_, day) => dayOfNumber(dayNumber('2026-05-03') + day))),
    );
    for (const line of out.slice(1)) {
      const [, , forecast, lower, upper] = line.split(',').map(Number);
      assert.ok(lower! <= forecast! && forecast! <= upper! && lower! >= 0, line);
    }

    writeFileSync(input, 'series_id,timestamp,value\nshop,2026-13-01,4\nshop,2026-01-02,many\n');
    const bad = spawnSync(process.execPath, [CLI, '--input', input, '--horizon', '7', '--output', output], { encoding: 'utf8' });
    assert.equal(bad.status, 2);
    assert.match(bad.stderr, /MALFORMED_CSV/);
    assert.match(bad.stderr, /line 2: timestamp "2026-13-01"/);
    assert.match(bad.stderr, /line 3: value "many"/);
    const horizon = spawnSync(process.execPath, [CLI, '--input', input, '--horizon', '0'], { encoding: 'utf8' });
    assert.equal(horizon.status, 2);
    assert.match(horizon.stderr, /--horizon must be a whole number of days from 1 to 90/);
  });

  it('pnpm -s forecast stays sensible on awkward series: gaps, all zeros, one day, a spike of 10^9, tiny and huge values', () => {
    const rows = ['series_id,timestamp,value'];
    const add = (id: string, days: number, value: (index: number) => number | null) => {
      for (let index = 0; index < days; index += 1) {
        const number = value(index);
        if (number !== null) rows.push(`${id},${dayOfNumber(dayNumber('2026-06-30') - days + 1 + index)},${number}`);
      }
    };
    for (let shop = 0; shop < 6; shop += 1)
      add(`shop${shop}`, 120, (index) => (index % 11 === 4 && index < 119 ? null : 20 * (shop + 1) + (index % 7 < 2 ? -10 : 5) + (index % 3)));
    add('zeros', 60, () => 0);
    add('one-day', 1, () => 7);
    add('spike', 90, (index) => (index === 85 ? 1e9 : 10));
    add('tiny', 40, (index) => (index % 7) / 1000);
    add('huge', 40, () => 1e200);
    add('stopped', 90, (index) => (index < 75 ? 50 : 0));
    const input = path.join(dir, 'awkward.csv');
    writeFileSync(input, `${rows.join('\n')}\n`);
    const run = spawnSync(process.execPath, [CLI, '--input', input, '--horizon', '7'], { encoding: 'utf8' });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stderr, /missing series days counted as zero usage/);
    const out = new Map<string, number[][]>();
    for (const line of run.stdout.trim().split('\n').slice(1)) {
      const [id, , ...numbers] = line.split(',');
      out.set(id!, [...(out.get(id!) ?? []), numbers.map(Number)]);
    }
    assert.equal(out.size, 12);
    for (const [id, days] of out) {
      assert.equal(days.length, 7, id);
      for (const [forecast, lower, upper] of days)
        assert.ok(Number.isFinite(upper) && lower! >= 0 && lower! <= forecast! && forecast! <= upper!, `${id}: ${days.join(' ')}`);
    }
    assert.ok(out.get('zeros')!.every(([forecast, , upper]) => forecast === 0 && upper === 0));
    assert.ok(
      out.get('spike')!.every(([forecast, , upper]) => Math.abs(forecast! - 10) < 2 && upper! < 1_000),
      `spike: ${out.get('spike')!.join(' ')}`,
    );
    assert.ok(
      out.get('stopped')!.every(([forecast]) => forecast! < 5),
      `stopped: ${out.get('stopped')!.join(' ')}`,
    );
  });

  it('pnpm -s forecast refuses a horizon out of range', () => {
    const input = path.join(dir, 'history.csv');
    const horizon = spawnSync(process.execPath, [CLI, '--input', input, '--horizon', '0'], { encoding: 'utf8' });
    assert.equal(horizon.status, 2);
    assert.match(horizon.stderr, /--horizon must be a whole number of days from 1 to 90/);
  });
});
