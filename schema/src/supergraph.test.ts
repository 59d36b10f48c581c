import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { describe, it } from 'node:test';
import { SUPERGRAPH_FILE, composeFromCode } from './compose.js';

describe('the checked-in supergraph', () => {
  it("composes from the subgraphs' code without errors", async () => {
    const composition = await composeFromCode();
    assert.deepEqual(composition.errors, []);
    assert.ok(composition.supergraphSdl);
  });

  it("holds each subgraph's SDL exactly as printed from code (run `pnpm compose` after a schema change)", async () => {
    const composition = await composeFromCode();
    for (const subgraph of composition.subgraphs) {
      const checkedIn = await readFile(subgraph.file, 'utf8');
      assert.equal(checkedIn, subgraph.sdl, `${relative(process.cwd(), subgraph.file)} is stale: run pnpm compose`);
    }
  });

  it('is the composition of those SDLs (run `pnpm compose` after a schema change)', async () => {
    const composition = await composeFromCode();
    assert.equal(await readFile(SUPERGRAPH_FILE, 'utf8'), composition.supergraphSdl, 'schema/supergraph.graphql is stale: run pnpm compose');
  });
});
