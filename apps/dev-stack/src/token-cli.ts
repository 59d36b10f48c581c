import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { Identity } from '@saldo/graphql';
import { signDevToken } from '@saldo/identity';
import { loadEmbeddedConfig } from './config.js';
import { embeddedKeys } from './keys.js';

// `pnpm -s token --role <admin|partner|tenant-admin|tenant-member> [--partner ID] [--tenant ID] [--ttl SECONDS]`
// prints a bearer token for the embedded stack (signed with its development key), and nothing else on stdout.
// (`-s` or `run` is needed: pnpm 10 hands a bare `pnpm token ...` to npm's own `token` command.)
const USAGE = `usage: pnpm -s token --role <admin|partner|tenant-admin|tenant-member> [--partner ID] [--tenant ID] [--subject NAME] [--ttl SECONDS]

Prints a bearer token for the embedded default (\`pnpm start\`), signed with its development key under SALDO_HOME/keys.
Send it as \`Authorization: Bearer <token>\` (Apollo Sandbox: the Headers tab).

  --role admin                          platform operator (every tenant and partner)
  --role partner --partner ID           a reseller: its own tenants
  --role tenant-admin --tenant ID       a tenant's administrator (tenant-member: read-only user)
  --subject NAME                        who the token names (default dev-user)
  --ttl SECONDS                         lifetime (default 43200, 12 hours)

Examples:
  pnpm -s token --role admin
  curl -s localhost:4000/graphql -H "authorization: Bearer $(pnpm -s token --role admin)" \\
    -H 'content-type: application/json' -d '{"query":"{ partners { edges { node { id name } } } }"}'
`;

function fail(message: string): never {
  process.stderr.write(`pnpm token: ${message} (see: pnpm -s token --help)\n`);
  process.exit(2);
}

function parse() {
  try {
    return parseArgs({
      options: {
        help: { type: 'boolean', short: 'h' },
        role: { type: 'string' },
        partner: { type: 'string' },
        tenant: { type: 'string' },
        subject: { type: 'string', default: 'dev-user' },
        ttl: { type: 'string', default: String(12 * 3600) },
      },
    }).values;
  } catch (error) {
    // parseArgs explains what was wrong ("Unknown option '--x'"); the stack trace would only hide it.
    fail(error instanceof Error ? error.message.replace(/\. To specify a positional argument.*$/s, '') : String(error));
  }
}

const values = parse();
if (values.help) {
  process.stdout.write(USAGE);
  process.exit(0);
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
    case undefined:
      return fail('--role is required: admin, partner, tenant-admin or tenant-member');
    default:
      fail(`unknown --role "${values.role}": use admin, partner, tenant-admin or tenant-member`);
  }
}

const identity = identityFrom();
const ttlSeconds = Number(values.ttl);
if (!Number.isInteger(ttlSeconds) || ttlSeconds <= 0) fail('--ttl must be a positive whole number of seconds');
const config = loadEmbeddedConfig(process.env);
const keyDir = join(config.SALDO_HOME, 'keys');
const firstRun = !existsSync(join(keyDir, 'portal-dev.key'));
// The key is created here when `pnpm start` has not run yet; the stack loads the same key when it starts, so the
// token printed now is accepted then.
const { portal } = await embeddedKeys(config.SALDO_HOME);
if (firstRun) {
  process.stderr.write(`pnpm token: created the development signing key in ${keyDir} (first run); \`pnpm start\` trusts tokens signed with it.\n`);
}
process.stdout.write(`${await signDevToken(portal.privateKeyPem, identity, { ttlSeconds })}\n`);
