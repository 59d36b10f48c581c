import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Identity } from '@saldo/graphql';
import { signDevToken } from '@saldo/identity';
import { loadEmbeddedConfig } from './config.js';
import { embeddedKeys } from './keys.js';

// `pnpm token --role <admin|partner|tenant-admin|tenant-member> [--partner ID] [--tenant ID] [--ttl SECONDS]`
// prints a bearer token for the running embedded stack (signed with its development key).
const usage = 'usage: pnpm token --role <admin|partner|tenant-admin|tenant-member> [--partner ID] [--tenant ID] [--subject NAME] [--ttl SECONDS]';
const { values } = parseArgs({
  options: {
    role: { type: 'string' },
    partner: { type: 'string' },
    tenant: { type: 'string' },
    subject: { type: 'string', default: 'dev-user' },
    ttl: { type: 'string', default: String(12 * 3600) },
  },
});

function fail(message: string): never {
  process.stderr.write(`${message}\n${usage}\n`);
  process.exit(2);
}

function identityFrom(): Identity {
  const subject = values.subject ?? 'dev-user';
  switch (values.role) {
    case 'admin':
    case 'platform-admin':
      return { role: 'platform-admin', subject };
    case 'partner':
      if (!values.partner) fail('--partner ID is required for --role partner');
      return { role: 'partner', subject, partnerId: values.partner };
    case 'tenant-admin':
    case 'tenant-member':
      if (!values.tenant) fail(`--tenant ID is required for --role ${values.role}`);
      return { role: values.role, subject, tenantId: values.tenant, ...(values.partner ? { partnerId: values.partner } : {}) };
    default:
      fail(`unknown or missing --role "${values.role ?? ''}"`);
  }
}

const config = loadEmbeddedConfig(process.env);
if (!existsSync(join(config.SALDO_HOME, 'keys', 'portal-dev.key'))) {
  process.stderr.write(`No development key under ${config.SALDO_HOME}/keys yet: run \`pnpm start\` once first.\n`);
}
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) fail('--ttl must be a positive number of seconds');
const { portal } = await embeddedKeys(config.SALDO_HOME);
process.stdout.write(`${await signDevToken(portal.privateKeyPem, identityFrom(), { ttlSeconds })}\n`);
