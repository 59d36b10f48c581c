import { parseArgs } from 'node:util';
import { signDevToken } from '@saldo/identity';
import { loadEmbeddedConfig } from './config.js';
import { embeddedKeys } from './keys.js';

// `pnpm demo-low-balance --tenant ID`: records demo usage for a tenant of the running embedded stack, through the
// gateway, until its balance is just below its highest low-balance threshold (notification settings), so the
// low-balance mail and webhook go out. A few recordUsage calls: one unit to learn the price, then what is left.
const { values } = parseArgs({ options: { tenant: { type: 'string' }, product: { type: 'string', default: 'inbound_minute' } } });
if (!values.tenant) {
  process.stderr.write('usage: pnpm demo-low-balance --tenant ID [--product inbound_minute]\n');
  process.exit(2);
}
const config = loadEmbeddedConfig(process.env);
const { portal } = await embeddedKeys(config.SALDO_HOME);
const token = await signDevToken(portal.privateKeyPem, { role: 'platform-admin', subject: 'demo-low-balance' }, { ttlSeconds: 300 });
const url = `http://${config.HOST === '0.0.0.0' ? '127.0.0.1' : config.HOST}:${config.GATEWAY_PORT}/graphql`;

async function gql<T>(query: string, variables: Record<string, unknown>): Promise<T> {
  const response = await fetch(url, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body: JSON.stringify({ query, variables }),
  });
  const result = (await response.json()) as { data?: T; errors?: Array<{ message: string }> };
  if (result.errors?.length) throw new Error(result.errors.map((error) => error.message).join('; '));
  return result.data as T;
}

const RECORD = `mutation($input: RecordUsageInput!) { recordUsage(input: $input) { balance { available { amountMinor currency } } } }`;
const record = async (quantity: number) =>
  (
    await gql<{ recordUsage: { balance: { available: { amountMinor: number; currency: string } } } }>(RECORD, {
      input: {
        tenantId: values.tenant,
        events: [{ id: `demo-low-balance-${Date.now()}-${quantity}`, product: values.product, quantity, occurredAt: new Date().toISOString() }],
      },
    })
  ).recordUsage.balance.available;

const { tenant } = await gql<{
  tenant: {
    name: string;
    balance: { available: { amountMinor: number; currency: string } };
    notificationSettings: { lowBalanceThresholds: Array<{ amountMinor: number }> };
  } | null;
}>(
  'query($id: ID!) { tenant(id: $id) { name balance { available { amountMinor currency } } notificationSettings { lowBalanceThresholds { amountMinor } } } }',
  { id: values.tenant },
);
if (!tenant) throw new Error(`No tenant ${values.tenant}`);
const threshold = Math.max(0, ...tenant.notificationSettings.lowBalanceThresholds.map((entry) => entry.amountMinor));
const start = tenant.balance.available;
if (start.amountMinor <= threshold) {
  process.stdout.write(
    `${tenant.name} is at ${start.amountMinor} ${start.currency} minor units, already at or below its threshold ${threshold}: top it up first.\n`,
  );
  process.exit(1);
}
// Prices are fractions of a minor unit and charges round per event, so the price per unit is learnt from what was
// charged, and a second, larger batch corrects the first estimate.
let balance = start.amountMinor;
let units = 1;
let end = start;
for (let round = 0; round < 4 && balance > threshold; round += 1) {
  end = await record(units);
  const perUnit = Math.max((balance - end.amountMinor) / units, 0.000_001);
  balance = end.amountMinor;
  units = Math.floor((balance - threshold) / perUnit) + 1;
}
process.stdout.write(
  `${tenant.name}: balance ${start.amountMinor} -> ${end.amountMinor} ${end.currency} minor units (threshold ${threshold}). The notifications are on their way.\n`,
);
