import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { seededRandom } from '@saldo/testing/random';
import { gaussian, poisson } from '../forecasting/index.js';
import { DAILY, HOURLY, scorePeriod, severityOf } from './detector.js';

/** Office-hours usage with a strong weekly rhythm: busy weekdays 8-18 h, quiet nights, near-silent weekends. */
function officeHours(weeks: number, level: number, seed: number): Float64Array {
  const random = seededRandom(seed);
  const normal = gaussian(random);
  const values = new Float64Array(weeks * 168);
  for (let index = 0; index < values.length; index += 1) {
    const weekday = Math.floor(index / 24) % 7; // 0 = Monday
    const hour = index % 24;
    const shape = hour >= 8 && hour < 18 ? 1 : hour >= 6 && hour < 21 ? 0.3 : 0.03;
    values[index] = poisson(level * shape * (weekday >= 5 ? 0.1 : 1) * Math.exp(normal() * 0.15), random, normal);
  }
  return values;
}

function daily(hourly: Float64Array): Float64Array {
  const days = new Float64Array(hourly.length / 24);
  for (let index = 0; index < hourly.length; index += 1) days[Math.floor(index / 24)]! += hourly[index]!;
  return days;
}

describe("anomaly scores against the tenant's own seasonal profile", () => {
  it("maps robust scores to the product strategy's severities", () => {
    assert.equal(severityOf(2.9), null);
    assert.equal(severityOf(3.1), 'MEDIUM');
    assert.equal(severityOf(-4.2), 'HIGH');
    assert.equal(severityOf(5.01), 'CRITICAL');
  });

  it('raises no alarm on an ordinary weekly rhythm: quiet weekends, busy Monday mornings, silent nights', () => {
    for (const seed of [1, 2, 3]) {
      const hourly = officeHours(12, 40, seed);
      let hourAlarms = 0;
      let checked = 0;
      const slots = new Set<number>();
      for (let index = 6 * 168; index < hourly.length; index += 1) {
        const score = scorePeriod(hourly, index, HOURLY.period, HOURLY.residualWindow);
        assert.ok(score, 'six weeks of hourly history are enough');
        checked += 1;
        if (score.severity) {
          hourAlarms += 1;
          // An alarm caused by the rhythm would repeat in the same hour of the week.
          assert.ok(!slots.has(index % 168), `seed ${seed}: the same hour of the week alarms twice`);
          slots.add(index % 168);
        }
      }
      const days = daily(hourly);
      let dayAlarms = 0;
      for (let index = 42; index < days.length; index += 1) if (scorePeriod(days, index, DAILY.period, DAILY.residualWindow)?.severity) dayAlarms += 1;
      // Six weeks of hours, every weekend, night and Monday morning included: the rhythm itself never alarms; what is
      // left is the statistical floor of a 3-sigma rule on noisy counts (a stray hour in several hundred).
      assert.ok(hourAlarms <= checked * 0.005, `seed ${seed}: ${hourAlarms} hourly alarms in ${checked} ordinary hours`);
      assert.equal(dayAlarms, 0, `seed ${seed}: daily alarms on an ordinary rhythm`);
    }
  });

  it('finds injected anomalies: a burst in an hour, a night of usage, a dead weekday, a doubled day', () => {
    const hourly = officeHours(10, 40, 7);
    const mondayTen = 9 * 168 + 10; // Monday 10:00 of the last week
    const nightHour = 9 * 168 + 2 * 24 + 3; // Wednesday 03:00
    hourly[mondayTen] = hourly[mondayTen]! * 4;
    hourly[nightHour] = 45;
    const burst = scorePeriod(hourly, mondayTen, HOURLY.period, HOURLY.residualWindow)!;
    assert.equal(burst.severity, 'CRITICAL', JSON.stringify(burst));
    const night = scorePeriod(hourly, nightHour, HOURLY.period, HOURLY.residualWindow)!;
    assert.equal(night.severity, 'CRITICAL', JSON.stringify(night));

    const days = daily(officeHours(12, 40, 8));
    const thursday = 11 * 7 + 3;
    const tuesday = 11 * 7 + 1;
    days[thursday] = 0;
    days[tuesday] = days[tuesday]! * 2;
    const dead = scorePeriod(days, thursday, DAILY.period, DAILY.residualWindow)!;
    assert.ok(dead.score < -5 && dead.severity === 'CRITICAL', JSON.stringify(dead));
    const doubled = scorePeriod(days, tuesday, DAILY.period, DAILY.residualWindow)!;
    assert.ok(doubled.score > 5, JSON.stringify(doubled));
    // Scores are graded: a larger rise scores higher.
    const scores = [1.1, 1.25, 2].map((factor) => {
      const grown = Float64Array.from(days);
      grown[tuesday] = (days[tuesday]! / 2) * factor;
      return scorePeriod(grown, tuesday, DAILY.period, DAILY.residualWindow)!.score;
    });
    assert.ok(scores[0]! < scores[1]! && scores[1]! < scores[2]!, scores.join(' < '));
  });

  it("keeps quiet without enough history to know the tenant's normal", () => {
    const hourly = officeHours(3, 40, 9);
    assert.equal(scorePeriod(hourly, hourly.length - 1, HOURLY.period, HOURLY.residualWindow), null);
  });
});
