import { writeFile } from 'node:fs/promises';
import { relative } from 'node:path';
import { SUPERGRAPH_FILE, composeFromCode } from './compose.js';

// `pnpm compose`: print the subgraph SDLs into schema/ and compose schema/supergraph.graphql.
const composition = await composeFromCode();
for (const subgraph of composition.subgraphs) {
  await writeFile(subgraph.file, subgraph.sdl);
  console.log(`wrote ${relative(process.cwd(), subgraph.file)}`);
}
if (composition.errors.length > 0 || !composition.supergraphSdl) {
  console.error(`composition failed:\n${composition.errors.map((e) => `  - ${e}`).join('\n')}`);
  process.exit(1);
}
await writeFile(SUPERGRAPH_FILE, composition.supergraphSdl);
console.log(`wrote ${relative(process.cwd(), SUPERGRAPH_FILE)} (${composition.hints.length} composition hints)`);
