import { readFile, writeFile } from 'node:fs/promises';
import { parseArgs } from 'node:util';
import { Supergraph } from '@apollo/federation-internals';
import { parse, validate } from 'graphql';
import { collectOperationSources } from './extract.js';
import { buildManifest } from './manifest.js';

// `pnpm extract-operations [--schema schema/supergraph.graphql] [--out manifest.json] PATH...`: the trusted-documents
// manifest (Apollo's persisted query manifest format) of a client's operations, from .graphql/.gql files and the
// gql`...` / graphql`...` / /* GraphQL */ templates in its .ts/.tsx/.js code. With --schema every operation is
// validated against the supergraph's API schema first. Point the gateway at the file with TRUSTED_DOCUMENTS_PATH.
const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: { out: { type: 'string', short: 'o' }, schema: { type: 'string', short: 's' }, help: { type: 'boolean', short: 'h' } },
});
if (values.help || positionals.length === 0) {
  process.stderr.write('usage: pnpm extract-operations [--schema SUPERGRAPH] [--out FILE] PATH...  (files or folders of .graphql/.gql/.ts/.tsx/.js)\n');
  process.exit(values.help ? 0 : 2);
}
try {
  const manifest = buildManifest(await collectOperationSources(positionals));
  if (values.schema) {
    const schema = Supergraph.build(await readFile(values.schema, 'utf8'))
      .apiSchema()
      .toGraphQLJSSchema();
    const problems = manifest.operations.flatMap((operation) => validate(schema, parse(operation.body)).map((error) => `${operation.name}: ${error.message}`));
    if (problems.length > 0)
      throw new Error(`operations that do not validate against ${values.schema}:\n${problems.map((problem) => `  - ${problem}`).join('\n')}`);
  }
  const json = `${JSON.stringify(manifest, null, 2)}\n`;
  if (values.out) {
    await writeFile(values.out, json);
    process.stderr.write(`${manifest.operations.length} operations -> ${values.out}\n`);
  } else process.stdout.write(json);
} catch (error) {
  process.stderr.write(`${(error as Error).message}\n`);
  process.exit(1);
}
