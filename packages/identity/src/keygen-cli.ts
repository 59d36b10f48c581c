import { chown } from 'node:fs/promises';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { ensureKeyPair } from './keys.js';

// `node packages/identity/dist/keygen-cli.js --dir /keys [--owner 1000:1000]`: creates the full stack's identity key
// pair once (docker-compose's keygen service): the gateway signs forwarded identities with it, subgraphs verify.
// An existing pair is kept.
const { values } = parseArgs({ options: { dir: { type: 'string' }, owner: { type: 'string' } } });
if (!values.dir) {
  process.stderr.write('usage: keygen-cli --dir DIR [--owner UID:GID]\n');
  process.exit(2);
}
for (const name of ['identity']) {
  await ensureKeyPair(values.dir, name);
  if (values.owner) {
    const [uid, gid] = values.owner.split(':').map(Number);
    for (const suffix of ['key', 'pub']) await chown(join(values.dir, `${name}.${suffix}`), uid ?? 0, gid ?? 0);
  }
}
process.stdout.write(`keys ready in ${values.dir}\n`);
