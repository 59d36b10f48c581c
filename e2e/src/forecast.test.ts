import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { AnomalyDetected, FraudCaseOpened, Topic, decode, type EventEnvelope } from '@saldo/events';
import type { Identity } from '@saldo/graphql';
import { AutoTopUpMode, LedgerEntryType, OverdraftMode } from '@saldo/subgraph-billing';
import { errorCodes, waitUntil } from '@saldo/testing';
import { wsTestClient, type WsTestClient } from './subscription-clients.js';
import { startTestStack, type TestStack } from './test-stack.js';

const DAY_MS = 86_400_000;
const HOUR_MS = 3_600_000;
const today = () => new Date().toISOString().slice(0, 10);
const dayBefore = (days: number) => new Date(Date.now() - days * DAY_MS).toISOString().slice(0, 10);

const FORECAST = /* GraphQL */ `
  query ($id: ID!, $days: Int) {
    tenant(id: $id) {
      id
      forecast(days: $days) {
        days {
          date
          quantity
          lower
          upper
        }
        depletion {
          date
          earliest
          latest
          confidence
        }
        model {
          version
          trainedAt
          backtestWape
        }
      }
    }
  }
`;

interface ForecastJson {
  days: Array<{ date: string; quantity: number; lower: number; upper: number }>;
  depletion: { date: string; earliest: string; latest: string | null; confidence: number } | null;
  model: { version: number; trainedAt: string | null; backtestWape: number | null };
}

describe('forecasts, depletion dates, anomalies, fraud and drift through the gateway', () => {
  let stack: TestStack;
  let partnerId: string;
  const tenants: Record<'a' | 'b' | 'c' | 'd' | 'e' | 'f', string> = { a: '', b: '', c: '', d: '', e: '', f: '' };
  const events: EventEnvelope[] = [];
  const clients: WsTestClient[] = [];
  const adminOf = (tenantId: string): Identity => ({ role: 'tenant-admin', subject: `admin-${tenantId}`, tenantId });
  const memberOf = (tenantId: string): Identity => ({ role: 'tenant-member', subject: `member-${tenantId}`, tenantId });

  async function forecast(tenantId: string, identity: Identity = adminOf(tenantId), days = 7): Promise<ForecastJson> {
    const response = await stack.gql<{ tenant: { forecast: ForecastJson } | null }>(FORECAST, { id: tenantId, days }, identity);
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    return response.data!.tenant!.forecast;
  }

  async function activeVersion(): Promise<number | null> {
    return stack.usageForecast.services.registry.activeVersion();
  }

  /** No training job is waiting or running (the minutely maintenance trains a fresh installation's first model). */
  async function trainingSettled(): Promise<void> {
    await waitUntil(async () => !(await stack.usageForecast.services.lifecycle.trainingPending()), 'no training job waiting or running', {
      timeoutMs: 60_000,
    });
  }

  async function trainAndServe(reason: 'manual' | 'drift' = 'manual'): Promise<number> {
    await trainingSettled();
    const outcome = await stack.usageForecast.services.trainer.train(reason);
    assert.ok(outcome.trained, JSON.stringify(outcome));
    // Every instance polls the registry: the new version is served without a restart. A training job the minutely
    // maintenance started meanwhile may activate a newer one still: wait for the queue, then for the active version.
    await trainingSettled();
    const served = await waitUntil(async () => {
      const active = await activeVersion();
      const current = stack.usageForecast.services.serving.current().version;
      return active !== null && current === active ? current : null;
    }, `version ${outcome.version} or newer served`);
    assert.ok(served >= outcome.version, `served ${served}, trained ${outcome.version}`);
    return served;
  }

  before(async () => {
    stack = await startTestStack('forecast', {
      usageForecastEnv: { MODEL_POLL_INTERVAL_MS: '100', FORECAST_TRAINING_ROWS: '3000', MODEL_UPDATE_INTERVAL: '86400' },
    });
    stack.bus.subscribe(Topic.NotificationEvents, 'forecast-test.notifications', async (event) => {
      events.push(event);
    });
    stack.bus.subscribe(Topic.FraudEvents, 'forecast-test.fraud', async (event) => {
      events.push(event);
    });
    const billing = stack.billing.services;
    for (const [product, unitPriceMinor] of Object.entries({ inbound_minute: '12.5', outbound_minute: '15', sms: '7.9' })) {
      await billing.rates.publish({ product, currency: 'EUR', unitPriceMinor, validFrom: new Date(Date.now() - 400 * DAY_MS) });
    }
    partnerId = (await stack.tenants.services.partners.create({ name: 'Forecast partner', country: 'DE' })).id;
    for (const key of Object.keys(tenants) as Array<keyof typeof tenants>) {
      tenants[key] = (
        await stack.tenants.services.tenants.create({ name: `Forecast ${key}`, currency: 'EUR', country: 'DE', partnerId: key === 'c' ? null : partnerId })
      ).id;
    }
    await stack.flushEvents();
    // 63 days of daily history (an office rhythm, about 100 minutes on weekdays), written like the demo seed does.
    const rows = [];
    for (const [index, tenantId] of Object.values(tenants).entries()) {
      for (let back = 63; back >= 1; back -= 1) {
        const date = new Date(Date.now() - back * DAY_MS);
        const weekend = date.getUTCDay() === 0 || date.getUTCDay() === 6;
        const spike = tenantId === tenants.d && back === 1 ? 4 : 1;
        rows.push({
          tenantId,
          day: date.toISOString().slice(0, 10),
          product: 'inbound_minute',
          quantity: Math.round((80 + index * 10) * (weekend ? 0.3 : 1) * (0.9 + ((back * 7 + index) % 5) / 20) * spike),
        });
      }
    }
    await stack.usageForecast.services.usage.recordMany(rows);
    for (const tenantId of Object.values(tenants)) {
      await billing.ledger.post({
        tenantId,
        entries: [{ type: LedgerEntryType.TOP_UP, amountMinor: tenantId === tenants.e ? 200_000n : 30_000n, idempotencyKey: `seed:${tenantId}` }],
      });
      // One charged event per tenant: usage-forecast learns the unit price billing charges.
      await billing.usage.recordUsage(tenantId, [
        { id: `price-${tenantId}`, product: 'inbound_minute', quantity: 1, occurredAt: new Date(Date.now() - 60_000) },
      ]);
    }
    await stack.flushEvents();
    await trainAndServe();
  });

  after(async () => {
    for (const client of clients) await client.dispose();
    await stack?.destroy();
  });

  it('shows a 7-day forecast with its 80 % range and the day the balance runs out', async () => {
    const result = await forecast(tenants.a);
    assert.equal(result.days.length, 7);
    assert.equal(result.days[0]!.date, today());
    for (const day of result.days) assert.ok(day.lower <= day.quantity && day.quantity <= day.upper && day.lower >= 0, JSON.stringify(day));
    assert.ok(
      result.days.some((day) => day.quantity > 20),
      'an office tenant uses minutes on weekdays',
    );
    assert.ok(result.depletion, 'about 300 EUR at about 10 EUR a weekday runs out within 90 days');
    assert.ok(result.depletion.earliest <= result.depletion.date && (result.depletion.latest === null || result.depletion.date <= result.depletion.latest));
    assert.ok(result.depletion.date > today() && result.depletion.date < dayBefore(-60), result.depletion.date);
    assert.ok(result.depletion.confidence > 0 && result.depletion.confidence <= 1);
    // A trained version answers (the minute's maintenance job may have trained another one meanwhile).
    assert.ok(result.model.version > 0 && result.model.trainedAt !== null, JSON.stringify(result.model));
    assert.ok(result.model.backtestWape !== null && result.model.backtestWape > 0 && result.model.backtestWape < 1);
  });

  it('an overdraft limit and an automatic top-up move the depletion date (billing announces both as events)', async () => {
    const before = (await forecast(tenants.b)).depletion!.date;
    const overdraft = await stack.gql(`mutation ($input: SetOverdraftPolicyInput!) { setOverdraftPolicy(input: $input) { mode } }`, {
      input: { tenantId: tenants.b, mode: OverdraftMode.ALLOW_OVERDRAFT, limit: { amountMinor: 20_000, currency: 'EUR' } },
    });
    assert.equal(overdraft.errors, undefined, JSON.stringify(overdraft.errors));
    await stack.flushEvents();
    const later = await waitUntil(async () => {
      const date = (await forecast(tenants.b)).depletion?.date;
      return date && date > before ? date : null;
    }, 'a later depletion date with 200 EUR of overdraft');
    assert.ok(later > before);

    const card = stack.stripeStandIn!.savePaymentMethod(tenants.b);
    await stack.billing.services.autoTopUp.set({
      tenantId: tenants.b,
      threshold: { amountMinor: 5_000n, currency: 'EUR' },
      mode: AutoTopUpMode.FIXED_AMOUNT,
      amount: { amountMinor: 20_000n, currency: 'EUR' },
      dailyCap: { amountMinor: 100_000n, currency: 'EUR' },
      stripeCustomerId: card.customerId,
      paymentMethodId: card.paymentMethodId,
    });
    await stack.flushEvents();
    await waitUntil(async () => (await forecast(tenants.b)).depletion === null, 'no depletion while auto-top-up keeps up');
  });

  it("forecasts reuse a tenant's account snapshot briefly, but never past a change this instance handled", async () => {
    const profiles = stack.usageForecast.services.profiles;
    // An hour's reuse allowed: only the event handler's invalidation can make the new limit visible within the wait.
    const hour = 3_600_000;
    const before = (await profiles.getRecent([tenants.a], hour)).get(tenants.a)!.overdraftLimitMinor;
    const response = await stack.gql(`mutation ($input: SetOverdraftPolicyInput!) { setOverdraftPolicy(input: $input) { mode } }`, {
      input: { tenantId: tenants.a, mode: OverdraftMode.ALLOW_OVERDRAFT, limit: { amountMinor: 12_345, currency: 'EUR' } },
    });
    assert.equal(response.errors, undefined, JSON.stringify(response.errors));
    assert.notEqual(before, 12_345n);
    await stack.flushEvents();
    await waitUntil(
      async () => (await profiles.getRecent([tenants.a], hour)).get(tenants.a)!.overdraftLimitMinor === 12_345n,
      'the new overdraft limit through getRecent',
    );
    const restored = await stack.gql(`mutation ($input: SetOverdraftPolicyInput!) { setOverdraftPolicy(input: $input) { mode } }`, {
      input: { tenantId: tenants.a, mode: OverdraftMode.BLOCK },
    });
    assert.equal(restored.errors, undefined, JSON.stringify(restored.errors));
    await stack.flushEvents();
    await waitUntil(
      async () => (await profiles.getRecent([tenants.a], hour)).get(tenants.a)!.overdraftLimitMinor === 0n,
      'the limit gone again through getRecent',
    );
  });

  it('a balanceChanged subscription selecting tenant { forecast { depletion { date } } } gets the fresh date with every update', async () => {
    const client = wsTestClient(stack.graphqlUrl, { authorization: `Bearer ${await stack.issueToken(memberOf(tenants.c))}` });
    clients.push(client);
    type Update = {
      balanceChanged: { balance: { version: number; available: { amountMinor: number } }; tenant: { forecast: { depletion: { date: string } | null } } };
    };
    const { collector, unsubscribe } = client.subscribe<Update>(
      `subscription ($tenantId: ID!) { balanceChanged(tenantId: $tenantId) { balance { version available { amountMinor } } tenant { forecast { depletion { date } } } } }`,
      { tenantId: tenants.c },
    );
    await collector.count(1);
    const first = collector.last!.balanceChanged;
    assert.ok(first.tenant.forecast.depletion, JSON.stringify(first));
    const dates = [first.tenant.forecast.depletion.date];
    // Three large usage batches: each takes about a third of what is left, so the date moves earlier each time.
    for (let batch = 1; batch <= 3; batch += 1) {
      const balance = collector.last!.balanceChanged.balance.available.amountMinor;
      const minutes = Math.floor(balance / 3 / 12.5);
      const response = await stack.gql<{ recordUsage: { balance: { version: number } } }>(
        `mutation ($input: RecordUsageInput!) { recordUsage(input: $input) { balance { version } } }`,
        {
          input: {
            tenantId: tenants.c,
            events: [
              { id: `big-${batch}-${randomUUID()}`, product: 'inbound_minute', quantity: minutes, occurredAt: new Date(Date.now() - 1000).toISOString() },
            ],
          },
        },
        adminOf(tenants.c),
      );
      assert.equal(response.errors, undefined, JSON.stringify(response.errors));
      const version = response.data!.recordUsage.balance.version;
      await collector.until((c) => (c.last?.balanceChanged.balance.version ?? 0) >= version, `version ${version}`);
      const update = collector.last!.balanceChanged;
      // The update carries the date for its own balance: the same as a query for that balance answers.
      const queried = await forecast(tenants.c);
      assert.equal(update.tenant.forecast.depletion?.date, queried.depletion?.date);
      dates.push(update.tenant.forecast.depletion!.date);
    }
    assert.ok(
      collector.results.every((result) => !result.errors),
      JSON.stringify(collector.results.find((result) => result.errors)),
    );
    assert.ok(dates[3]! < dates[0]!, `the date moved earlier: ${dates.join(' -> ')}`);
    for (let index = 1; index < dates.length; index += 1) assert.ok(dates[index]! <= dates[index - 1]!, dates.join(' -> '));
    unsubscribe();
  });

  it("scope: a tenant sees only its own forecast and anomalies; fraud cases and the model status are operators' only", async () => {
    const other = await stack.gql<{ tenant: unknown }>(FORECAST, { id: tenants.b, days: 7 }, memberOf(tenants.a));
    assert.equal(other.data?.tenant ?? null, null, 'another tenant reads as missing');
    const direct = await stack.gql(`{ tenantForecast(tenantId: "${tenants.b}") { days { date } } }`, {}, memberOf(tenants.a));
    assert.deepEqual(errorCodes(direct), ['FORBIDDEN']);
    const partner: Identity = { role: 'partner', subject: 'partner-user', partnerId };
    const own = await stack.gql<{ tenant: { forecast: ForecastJson } }>(FORECAST, { id: tenants.a, days: 3 }, partner);
    assert.equal(own.data?.tenant.forecast.days.length, 3, "a partner sees its tenants' forecasts");
    const notOwn = await stack.gql<{ tenant: unknown }>(FORECAST, { id: tenants.c, days: 3 }, partner);
    assert.equal(notOwn.data?.tenant ?? null, null);
    for (const identity of [memberOf(tenants.a), adminOf(tenants.a), partner]) {
      assert.deepEqual(errorCodes(await stack.gql(`{ fraudCases { edges { node { id } } } }`, {}, identity)), ['FORBIDDEN']);
      assert.deepEqual(errorCodes(await stack.gql(`{ modelStatus { servedVersion } }`, {}, identity)), ['FORBIDDEN']);
      assert.deepEqual(errorCodes(await stack.gql(`mutation { resolveFraudCase(id: "${randomUUID()}", resolution: DISMISSED) { id } }`, {}, identity)), [
        'FORBIDDEN',
      ]);
    }
  });

  it('bad input gets stable codes and changes nothing', async () => {
    for (const days of [0, 91, -3]) {
      assert.deepEqual(errorCodes(await stack.gql(FORECAST, { id: tenants.a, days }, adminOf(tenants.a))), ['DAYS_OUT_OF_RANGE'], `days ${days}`);
    }
    assert.deepEqual(errorCodes(await stack.gql(`{ tenantForecast(tenantId: "${randomUUID()}") { days { date } } }`)), ['TENANT_NOT_FOUND']);
    assert.deepEqual(errorCodes(await stack.gql(`{ tenantForecast(tenantId: "not-a-tenant") { days { date } } }`)), ['INVALID_ID']);
    assert.deepEqual(errorCodes(await stack.gql(`{ tenant(id: "${tenants.a}") { anomalies(after: "garbage") { edges { cursor } } } }`)), ['INVALID_CURSOR']);
    assert.deepEqual(errorCodes(await stack.gql(`mutation { resolveFraudCase(id: "${randomUUID()}", resolution: DISMISSED) { id } }`)), [
      'FRAUD_CASE_NOT_FOUND',
    ]);
  });

  it("finds an anomalous day against the tenant's own profile, publishes anomaly.detected, shows it to that tenant only", async () => {
    const midnight = new Date(`${today()}T00:00:00.000Z`);
    const checked = await stack.usageForecast.services.anomalies.checkHour(midnight);
    assert.ok(checked.anomalies >= 1, JSON.stringify(checked));
    const query = `query ($id: ID!) { tenant(id: $id) { anomalies(first: 10) { edges { node { granularity periodStart observed expected score severity } } } } }`;
    const mine = await stack.gql<{
      tenant: { anomalies: { edges: Array<{ node: { granularity: string; periodStart: string; severity: string; score: number } }> } };
    }>(query, { id: tenants.d }, memberOf(tenants.d));
    const found = mine.data!.tenant.anomalies.edges.map((edge) => edge.node);
    assert.equal(found.length, 1, JSON.stringify(found));
    assert.deepEqual([found[0]!.granularity, found[0]!.periodStart.slice(0, 10), found[0]!.severity], ['DAY', dayBefore(1), 'CRITICAL']);
    const ordinary = await stack.gql<{ tenant: { anomalies: { edges: unknown[] } } }>(query, { id: tenants.a }, memberOf(tenants.a));
    assert.deepEqual(ordinary.data!.tenant.anomalies.edges, [], 'an ordinary weekly rhythm raises nothing');
    // Checking the same hour again records nothing new.
    assert.equal((await stack.usageForecast.services.anomalies.checkHour(midnight)).anomalies, 0);
    await stack.flushEvents();
    await waitUntil(() => events.some((event) => decode(AnomalyDetected, event)?.tenantId === tenants.d), 'anomaly.detected');
  });

  it("opens a critical fraud case for a burst, suspends usage under the partner's policy, and lets an operator dismiss it", async () => {
    const policy = await stack.gql(`mutation ($p: ID!) { setFraudPolicy(partnerId: $p, suspendUsageOnCritical: true) { suspendUsageOnCritical } }`, {
      p: partnerId,
    });
    assert.equal(policy.errors, undefined, JSON.stringify(policy.errors));
    // A week of ordinary hourly usage, then 900 minutes within the current hour.
    const history = Array.from({ length: 7 * 24 }, (_, hour) => ({
      id: `hour-${hour}`,
      product: 'inbound_minute',
      quantity: 2 + (hour % 3),
      occurredAt: new Date(Date.now() - (hour + 1) * HOUR_MS).toISOString(),
    }));
    await stack.billing.services.usage.recordUsage(tenants.e, history);
    await stack.flushEvents();
    await stack.billing.services.usage.recordUsage(tenants.e, [
      { id: 'burst', product: 'inbound_minute', quantity: 900, occurredAt: new Date(Date.now() - 1000).toISOString() },
    ]);
    await stack.flushEvents();
    const opened = await waitUntil(
      () => events.map((event) => decode(FraudCaseOpened, event)).find((payload) => payload?.tenantId === tenants.e),
      'fraud.case_opened',
    );
    assert.equal(opened.severity, 'CRITICAL');
    assert.equal(opened.suspendUsage, true);
    assert.ok(opened.signals.some((signal) => signal.kind === 'USAGE_BURST'));
    await waitUntil(
      async () => (await stack.gql<{ tenant: { status: string } }>(`{ tenant(id: "${tenants.e}") { status } }`)).data?.tenant.status === 'SUSPENDED',
      'tenant suspended',
    );

    type Cases = {
      fraudCases: {
        edges: Array<{ node: { id: string; tenantId: string; status: string; severity: string; usageSuspended: boolean; signals: Array<{ kind: string }> } }>;
      };
    };
    const cases = await stack.gql<Cases>(`{ fraudCases(status: OPEN) { edges { node { id tenantId status severity usageSuspended signals { kind } } } } }`);
    const node = cases.data!.fraudCases.edges.map((edge) => edge.node).find((candidate) => candidate.tenantId === tenants.e)!;
    assert.deepEqual([node.status, node.severity, node.usageSuspended], ['OPEN', 'CRITICAL', true]);
    const resolved = await stack.gql<{ resolveFraudCase: { status: string; resolvedBy: string } }>(
      `mutation ($id: ID!) { resolveFraudCase(id: $id, resolution: DISMISSED, note: "marketing campaign") { status resolvedBy } }`,
      { id: node.id },
    );
    assert.equal(resolved.data?.resolveFraudCase.status, 'DISMISSED', JSON.stringify(resolved));
    assert.deepEqual(errorCodes(await stack.gql(`mutation ($id: ID!) { resolveFraudCase(id: $id, resolution: CONFIRMED) { id } }`, { id: node.id })), [
      'INVALID_STATE',
    ]);
    await stack.flushEvents();
    await waitUntil(
      async () => (await stack.gql<{ tenant: { status: string } }>(`{ tenant(id: "${tenants.e}") { status } }`)).data?.tenant.status === 'ACTIVE',
      'tenant reactivated',
    );
    const open = await stack.gql<Cases>(`{ fraudCases(status: OPEN) { edges { node { id tenantId status severity usageSuspended signals { kind } } } } }`);
    assert.ok(!open.data!.fraudCases.edges.some((edge) => edge.node.id === node.id));
  });

  it('hot-swaps a new model version under concurrent queries, without a restart or a failed query', async () => {
    const before = stack.usageForecast.services.serving.current().version;
    const seen: number[][] = [[], [], []];
    const failures: unknown[] = [];
    let stop = false;
    const loops = seen.map(async (own) => {
      while (!stop) {
        const response = await stack.gql<{ tenant: { forecast: ForecastJson } }>(FORECAST, { id: tenants.f, days: 7 }, adminOf(tenants.f));
        if (response.errors || !response.data?.tenant.forecast.days.length) failures.push(response.errors ?? response.data);
        else own.push(response.data.tenant.forecast.model.version);
      }
    });
    const next = await trainAndServe();
    await waitUntil(() => seen.every((own) => own.includes(next)), `every query loop answered by version ${next}`);
    stop = true;
    await Promise.all(loops);
    assert.deepEqual(failures, []);
    assert.ok(next > before);
    for (const own of seen) {
      assert.ok(
        own.every((version) => version === before || version === next),
        own.join(','),
      );
      // Each loop asks one query after the other: once it got the new version, it never gets the old one again.
      assert.ok(
        own.slice(own.indexOf(next)).every((version) => version === next),
        own.join(','),
      );
    }
    assert.ok(
      seen.some((own) => own.includes(before)),
      'queries ran across the swap',
    );
  });

  it('forecasts being read are made again ahead of the next read: after late usage and after a new model version', async () => {
    const forecasts = stack.usageForecast.services.forecasts;
    await forecast(tenants.f);
    await forecasts.idle();
    const before = (await forecast(tenants.f)).days;

    // Late usage (yesterday) changes the history the forecast was made from: the cached one is dropped and made again
    // in the background, from the new history, before anyone asks.
    const late = await stack.gql(
      `mutation ($input: RecordUsageInput!) { recordUsage(input: $input) { balance { version } } }`,
      {
        input: {
          tenantId: tenants.f,
          events: [{ id: `late-${randomUUID()}`, product: 'inbound_minute', quantity: 1_000, occurredAt: new Date(Date.now() - DAY_MS).toISOString() }],
        },
      },
      adminOf(tenants.f),
    );
    assert.equal(late.errors, undefined, JSON.stringify(late.errors));
    await stack.flushEvents();
    await forecasts.idle();
    assert.equal(forecasts.cached(tenants.f)?.madeAhead, true, 'made again in the background');
    const after = (await forecast(tenants.f)).days;
    assert.equal(forecasts.cached(tenants.f)?.madeAhead, true, 'the read computed nothing itself');
    assert.notDeepEqual(after, before, 'made from the history with the late day');

    // A new model version: the forecasts still being read are made with it in the background.
    const version = await trainAndServe();
    await forecasts.idle();
    assert.deepEqual(forecasts.cached(tenants.f), { modelVersion: version, madeAhead: true });
    assert.equal((await forecast(tenants.f)).model.version, version);
    assert.deepEqual(forecasts.cached(tenants.f), { modelVersion: version, madeAhead: true }, 'the read computed nothing itself');
  });

  it('a drift flag triggers retraining through the job queue and shows in modelStatus', async () => {
    const flaggedVersion = (await activeVersion())!;
    await stack.usageForecast.services.registry.flagDrift(flaggedVersion, 'test: forecasts off by 60 %', new Date());
    assert.equal(await stack.usageForecast.services.lifecycle.maintain(), 'drift');
    const retrained = await waitUntil(
      async () => {
        const version = await activeVersion();
        return version !== null && version > flaggedVersion ? version : null;
      },
      'a retrained version from the train-model job',
      { timeoutMs: 60_000 },
    );
    type Status = {
      modelStatus: {
        active: { version: number; reason: string; driftFlaggedAt: string | null };
        versions: Array<{
          version: number;
          driftFlaggedAt: string | null;
          driftReason: string | null;
          forecaster: { wape: number } | null;
          profile: { wape: number; mase: number; coverage: number } | null;
          median4: { wape: number } | null;
        }>;
      };
    };
    const status = await stack.gql<Status>(
      `{ modelStatus { active { version reason driftFlaggedAt } versions { version driftFlaggedAt driftReason forecaster { wape } profile { wape mase coverage } median4 { wape } } } }`,
    );
    assert.equal(status.errors, undefined, JSON.stringify(status.errors));
    assert.deepEqual(
      [status.data!.modelStatus.active.version, status.data!.modelStatus.active.reason, status.data!.modelStatus.active.driftFlaggedAt],
      [retrained, 'drift', null],
    );
    const old = status.data!.modelStatus.versions.find((version) => version.version === flaggedVersion)!;
    assert.ok(old.driftFlaggedAt);
    assert.equal(old.driftReason, 'test: forecasts off by 60 %');
    assert.ok(old.forecaster && old.profile && old.median4, 'each version keeps its validation accuracy against the baselines');
    // The weekday profile x level forecast the network corrects: its own validation figures, as training measured them.
    const stored = (await stack.usageForecast.services.registry.list(10)).find((version) => version.version === flaggedVersion)!;
    assert.deepEqual(old.profile, { wape: stored.metrics!.profile.wape, mase: stored.metrics!.profile.mase, coverage: stored.metrics!.profile.coverage });
    assert.ok(old.profile.wape > 0 && old.profile.wape < 1 && old.profile.coverage > 0, JSON.stringify(old.profile));
  });

  it("a newest version trained on other features (an older release's) is not waited for: training is requested at once", async () => {
    // Let any training the previous test started (or queued behind it) finish first, so the newest version is the one
    // changed below.
    const served = await waitUntil(async () => {
      if (await stack.usageForecast.services.lifecycle.trainingPending()) return null;
      const [newest] = await stack.usageForecast.services.registry.list(1);
      return newest?.active && stack.usageForecast.services.serving.current().version === newest.version ? newest : null;
    }, 'the newest version active and served');
    assert.equal(await stack.usageForecast.services.lifecycle.maintain(), null, 'a fresh compatible version needs no training');
    await stack.usageForecast.runtime.db
      .globalEm()
      .execute(`update forecast_model set features = '["lag_1"]'::jsonb where version = ?`, [served.version], 'run');
    assert.equal((await stack.usageForecast.services.registry.list(1))[0]!.compatible, false);
    assert.equal(await stack.usageForecast.services.lifecycle.maintain(), 'startup');
  });
});
