import assert from 'node:assert/strict';
import { test } from 'node:test';
import { generateSigningKeyPair } from '@saldo/identity';
import { loadGatewayConfig, removeBlankApolloVariables } from './config.js';

test("compose's empty APOLLO_KEY means no managed federation, and is not left for Apollo Server to read", () => {
  // What docker-compose.yml gives the gateway when APOLLO_KEY and APOLLO_GRAPH_REF are not set in the shell.
  const key = generateSigningKeyPair().privateKeyPem;
  const env: Record<string, string | undefined> = {
    SUPERGRAPH_PATH: '/app/schema/supergraph.graphql',
    IDENTITY_PRIVATE_KEY: key,
    APOLLO_KEY: '',
    APOLLO_GRAPH_REF: '',
  };
  const config = loadGatewayConfig(env);
  assert.equal(config.APOLLO_KEY, undefined);
  removeBlankApolloVariables(env);
  assert.deepEqual(env, { SUPERGRAPH_PATH: '/app/schema/supergraph.graphql', IDENTITY_PRIVATE_KEY: key });
});

test('a set APOLLO_KEY is left alone', () => {
  const env: Record<string, string | undefined> = { APOLLO_KEY: 'service:saldo:abc', APOLLO_GRAPH_REF: 'saldo@current' };
  removeBlankApolloVariables(env);
  assert.deepEqual(env, { APOLLO_KEY: 'service:saldo:abc', APOLLO_GRAPH_REF: 'saldo@current' });
});
