import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError } from '@saldo/config';
import { loadBillingConfig } from '../../config.js';
import {
  DEFAULT_EXCHANGE_RATES,
  RATE_SCALE,
  StaticExchangeRateProvider,
  convertMinor,
  formatRate,
  parseExchangeRateTable,
  type ExchangeRateProvider,
} from './fx.js';
import { DEFAULT_TOPUP_LIMITS, parseTopUpLimits } from './top-up-limits.js';

const rate = (from: string, to: string, decimal: string) => ({ from, to, rateScaled: parseExchangeRateTable(`${from}/${to}=${decimal}`)[`${from}/${to}`]! });

describe('exchange rates', () => {
  it('holds rates as exact integers scaled by 10^12', () => {
    const table = parseExchangeRateTable('USD/EUR=0.925, JPY/EUR=0.006123,EUR/JPY=163.318700000001');
    assert.equal(table['USD/EUR'], 925_000_000_000n);
    assert.equal(table['JPY/EUR'], 6_123_000_000n);
    assert.equal(formatRate(table['EUR/JPY']!), '163.318700000001');
    assert.equal(RATE_SCALE, 12);
  });

  it('refuses malformed tables', () => {
    for (const bad of [
      'USD/EUR=0',
      'USD/EUR=-1',
      'USD/EUR=1e3',
      'USD/EUR=0.1234567890123',
      'USD-EUR=1',
      'USD/XXX=1',
      'EUR/EUR=1',
      'USD/EUR=1,USD/EUR=2',
      'USD/EUR=0.1.2',
    ]) {
      assert.throws(() => parseExchangeRateTable(bad), RangeError, bad);
    }
  });

  it('converts with bigint arithmetic, across minor-unit exponents, rounding half up once', () => {
    assert.equal(convertMinor(5_000n, rate('USD', 'EUR', '0.925')), 4_625n); // 50.00 USD -> 46.25 EUR
    assert.equal(convertMinor(1_001n, rate('USD', 'EUR', '0.925')), 926n); // 9.25925 -> 9.26
    assert.equal(convertMinor(1_000n, rate('JPY', 'EUR', '0.006123')), 612n); // 1,000 JPY -> 6.123 EUR -> 6.12
    assert.equal(convertMinor(4_625n, rate('EUR', 'JPY', '163.3187')), 7_553n); // 46.25 EUR -> 7,553.49 JPY -> 7,553 (no minor unit)
    assert.equal(convertMinor(1n, rate('EUR', 'KWD', '0.33345')), 3n); // 0.01 EUR -> 0.0033345 KWD -> 3 fils
    assert.equal(convertMinor(10n, rate('USD', 'EUR', '0.05')), 1n); // 0.5 cent -> 1 cent (half up)
    assert.equal(convertMinor(9n, rate('USD', 'EUR', '0.05')), 0n); // 0.45 cent -> 0
    // 10^13 minor units at a 12-decimal rate: no precision is lost anywhere.
    assert.equal(convertMinor(10n ** 13n, rate('USD', 'EUR', '0.123456789012')), 1_234_567_890_120n);
  });

  it('answers from the static table with its source label, and null for pairs it lacks', async () => {
    const provider: ExchangeRateProvider = new StaticExchangeRateProvider(DEFAULT_EXCHANGE_RATES, 'ECB 2026-11-20');
    assert.deepEqual(await provider.rate('USD', 'EUR', new Date()), {
      from: 'USD',
      to: 'EUR',
      rateScaled: 925_000_000_000n,
      source: 'ECB 2026-11-20',
      asOf: null,
    });
    assert.equal(await provider.rate('EUR', 'JPY', new Date()), null);
  });
});

describe('top-up limits and billing configuration', () => {
  const base = {
    CONTROL_DATABASE_URL: 'postgres://localhost/c',
    SHARD_DATABASE_URLS: 'postgres://localhost/s0',
    IDENTITY_PUBLIC_KEY: '-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----',
  };

  it('has defaults per currency in minor units and parses overrides exactly', () => {
    assert.deepEqual(DEFAULT_TOPUP_LIMITS['EUR'], { minMinor: 500n, maxMinor: 1_000_000n });
    assert.deepEqual(DEFAULT_TOPUP_LIMITS['JPY'], { minMinor: 500n, maxMinor: 1_500_000n });
    assert.deepEqual(parseTopUpLimits('EUR:10.00-500.50, KWD:1.500-100'), {
      EUR: { minMinor: 1000n, maxMinor: 50050n },
      KWD: { minMinor: 1500n, maxMinor: 100000n },
    });
    for (const bad of ['EUR:10.001-20', 'EUR:20-10', 'EUR:0-10', 'XXX:1-2', 'EUR 1-2', 'JPY:1.5-100'])
      assert.throws(() => parseTopUpLimits(bad), RangeError, bad);
  });

  it('reads Stripe settings, fails fast on inconsistent ones, and merges limit overrides', () => {
    const config = loadBillingConfig({
      ...base,
      STRIPE_SECRET_KEY: 'sk_test_abc',
      STRIPE_WEBHOOK_SECRET: 'whsec_abc',
      STRIPE_API_BASE: 'http://127.0.0.1:12111',
      TOPUP_LIMITS: 'EUR:10.00-100.00',
    });
    assert.equal(config.STRIPE_WEBHOOK_TOLERANCE_SECONDS, 300);
    assert.deepEqual(config.TOPUP_LIMITS['EUR'], { minMinor: 1000n, maxMinor: 10000n });
    assert.deepEqual(config.TOPUP_LIMITS['USD'], DEFAULT_TOPUP_LIMITS['USD']);
    assert.equal(config.EXCHANGE_RATES, DEFAULT_EXCHANGE_RATES);
    const problems = (env: Record<string, string>) => {
      try {
        loadBillingConfig({ ...base, ...env });
        return [];
      } catch (error) {
        assert.ok(error instanceof ConfigError);
        return error.problems;
      }
    };
    assert.match(
      problems({ STRIPE_SECRET_KEY: 'sk_test_abc' }).join(),
      /STRIPE_WEBHOOK_SECRET: STRIPE_SECRET_KEY and STRIPE_WEBHOOK_SECRET must be set together/,
    );
    assert.match(
      problems({ STRIPE_SECRET_KEY: 'sk_live_abc', STRIPE_WEBHOOK_SECRET: 'whsec_abc', STRIPE_API_BASE: 'http://127.0.0.1:1' }).join(),
      /STRIPE_API_BASE: .*live key/,
    );
    assert.match(problems({ STRIPE_SECRET_KEY: 'pk_test_abc', STRIPE_WEBHOOK_SECRET: 'whsec_abc' }).join(), /STRIPE_SECRET_KEY/);
    assert.match(problems({ STRIPE_API_BASE: 'ftp://x' }).join(), /STRIPE_API_BASE/);
    assert.match(problems({ TOPUP_LIMITS: 'EUR:5' }).join(), /TOPUP_LIMITS/);
    assert.match(problems({ EXCHANGE_RATES: 'USD/EUR=abc' }).join(), /EXCHANGE_RATES/);
    assert.match(problems({ AUTO_TOPUP_BACKOFF_BASE_SECONDS: '600', AUTO_TOPUP_BACKOFF_MAX_SECONDS: '60' }).join(), /AUTO_TOPUP_BACKOFF_MAX_SECONDS/);
    assert.match(problems({ REDIS_URL: 'http://redis' }).join(), /REDIS_URL/);
  });
});
