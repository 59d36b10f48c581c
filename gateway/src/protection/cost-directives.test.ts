import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { describe, it } from 'node:test';
import { NO_COST_DIRECTIVES, costDirectivesFromSdl } from './cost-directives.js';

describe('@cost / @listSize from SDL', () => {
  it('reads the checked-in supergraph (cost spec link): Saldo sizes its day lists by `days`', async () => {
    const directives = costDirectivesFromSdl(await readFile(new URL('../../../schema/supergraph.graphql', import.meta.url), 'utf8'));
    assert.deepEqual(directives.field('Tenant', 'usage'), { listSize: { slicingArguments: ['days'] } });
    assert.deepEqual(directives.field('Query', 'tenantUsage'), { listSize: { slicingArguments: ['days'] } });
    assert.deepEqual(directives.field('Tenant', 'forecast'), { listSize: { slicingArguments: ['days'], sizedFields: ['days'] } });
    assert.deepEqual(directives.field('RecordUsagePayload', 'results'), { listSize: { assumedSize: 1000 } });
    assert.equal(directives.field('Tenant', 'name'), undefined);
  });

  it('follows renamed imports and namespaced names of a @link', () => {
    const directives = costDirectivesFromSdl(/* GraphQL */ `
      schema @link(url: "https://specs.apollo.dev/cost/v0.1", as: "demand", import: [{ name: "@listSize", as: "@size" }]) {
        query: Query
      }
      type Query {
        a: [A!]! @size(assumedSize: 5)
        b: A @demand__cost(weight: 7)
        c: [A!]! @listSize(assumedSize: 9)
      }
      type A @demand__cost(weight: 3) {
        id: ID!
      }
    `);
    assert.deepEqual(directives.field('Query', 'a'), { listSize: { assumedSize: 5 } });
    assert.deepEqual(directives.field('Query', 'b'), { weight: 7 });
    assert.equal(directives.typeWeight('A'), 3);
    // the bare name is accepted too (SDL that declares the directives plainly)
    assert.deepEqual(directives.field('Query', 'c'), { listSize: { assumedSize: 9 } });
  });

  it('is empty for a schema without them', () => {
    assert.equal(costDirectivesFromSdl('type Query { a: [String] }'), NO_COST_DIRECTIVES);
  });
});
