import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ConfigError, fields, parseConfig, z } from './index.js';

const schema = z.object({ PORT: fields.port(4000), DATABASE_URL: fields.postgresUrl(), SHARDS: fields.postgresUrlList(), FLAG: fields.boolean(false) });

describe('configuration', () => {
  it('applies defaults and coerces environment strings', () => {
    const config = parseConfig('svc', schema, { DATABASE_URL: 'postgres://h/db', SHARDS: 'postgres://h/a, postgres://h/b', FLAG: 'yes' });
    assert.deepEqual(config, { PORT: 4000, DATABASE_URL: 'postgres://h/db', SHARDS: ['postgres://h/a', 'postgres://h/b'], FLAG: true });
  });

  it('fails fast listing every problem at once', () => {
    assert.throws(
      () => parseConfig('svc', schema, { PORT: '99999', DATABASE_URL: 'mysql://x', FLAG: 'maybe' }),
      (error: unknown) => {
        assert.ok(error instanceof ConfigError);
        assert.deepEqual(error.problems.map((problem) => problem.split(':')[0]).sort(), ['DATABASE_URL', 'FLAG', 'PORT', 'SHARDS']);
        return true;
      },
    );
  });
});
