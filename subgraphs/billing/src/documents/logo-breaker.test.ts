// Billing's partner-logo fetch (`logo` breaker, one circuit per logo host) against a stand-in logo host that is stopped
// and started again: what a new document's branding carries, and whether the logo job fails (the queue retries it) or
// is done. The job is run here as its worker runs it (storeBrandingLogo with the LOGO_BREAKER_* guards), since the
// queue's own retry waits 30 s and more; the branding and logo live in the real control database.
import assert from 'node:assert/strict';
import { randomUUID } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { BrandingChanged, TenantCreated, outboxRow, toEnvelope, type EventContract } from '@saldo/events';
import { breakerSettings, type DependencyGuardPool } from '@saldo/resilience';
import { restartableServer, startTestSubgraph, waitUntil, type RestartableServer, type TestSubgraph } from '@saldo/testing';
import type { z } from 'zod';
import { loadBillingConfig, type BillingConfig } from '../config.js';
import { billingSubgraph, type BillingServices } from '../definition.js';
import { platformIssuer } from './config.js';
import { SAMPLE_ISSUER_ENV, SAMPLE_LOGO_DATA_URI } from './samples.js';
import { logoGuards, storeBrandingLogo } from './services/logos.js';
import { PartiesReader } from './services/parties.js';

const PNG = Buffer.from(SAMPLE_LOGO_DATA_URI.slice(SAMPLE_LOGO_DATA_URI.indexOf(',') + 1), 'base64');

let logoHost: RestartableServer;
let subgraph: TestSubgraph<BillingServices, BillingConfig>;
let guards: DependencyGuardPool;

async function publish<C extends EventContract<string, z.ZodType>>(contract: C, key: string, payload: z.input<C['payload']>) {
  await subgraph.service.runtime.bus.publish([toEnvelope(outboxRow(contract, key, payload, new Date()))]);
}

describe("billing's partner-logo fetch and its circuit breaker", () => {
  before(async () => {
    logoHost = restartableServer((request, response) => {
      if (request.url !== '/logo.png') return void response.writeHead(404).end();
      response.writeHead(200, { 'content-type': 'image/png', 'content-length': PNG.length }).end(PNG);
    });
    await logoHost.start();
    subgraph = await startTestSubgraph(billingSubgraph, loadBillingConfig, {
      label: 'logobreaker',
      // No job workers: the test runs the logo job itself (above), with guards built from these settings.
      env: { ...SAMPLE_ISSUER_ENV, JOBS_WORKERS: 'false', LOGO_BREAKER_FAILURES: '2', LOGO_BREAKER_HALF_OPEN_MS: '300' },
    });
    guards = logoGuards(breakerSettings(subgraph.service.runtime.config, 'LOGO'));
  });

  after(async () => {
    await subgraph?.destroy();
    await logoHost?.stop();
  });

  it('shows the display name while the logo host is down (the job fails and is retried, fast once the circuit is open), and the logo once it is back', async () => {
    const db = subgraph.service.runtime.db;
    const partnerId = randomUUID();
    const tenantId = randomUUID();
    const url = `${logoHost.url}/logo.png`;
    const job = { level: 'PARTNER' as const, ownerId: partnerId, url };
    const host = new URL(url).host;
    await publish(TenantCreated, tenantId, {
      tenantId,
      partnerId,
      name: 'Rhein Kunde',
      currency: 'EUR',
      country: 'DE',
      status: 'ACTIVE',
      profile: {
        legalName: 'Rhein Kunde GmbH',
        address: { line1: 'Teststraße 1', line2: null, postalCode: '10115', city: 'Berlin', region: null },
        country: 'DE',
        vatId: null,
      },
    });
    await publish(BrandingChanged, partnerId, {
      level: 'PARTNER',
      partnerId,
      tenantId: null,
      values: { displayName: 'Rhein Phone', primaryColor: '#1D4ED8', accentColor: '#DC2626', logoUrl: url, supportEmail: null },
      changedAt: new Date().toISOString(),
    });
    // What a document issued now for the partner's tenant is branded with (the platform issuer has no logo of its own).
    const parties = new PartiesReader(db, platformIssuer(subgraph.service.runtime.config));
    const brandingOf = async () => {
      const resolved = await parties.resolve(tenantId);
      assert.ok('branding' in resolved, JSON.stringify(resolved));
      return resolved.branding;
    };
    await waitUntil(async () => ((await brandingOf().catch(() => null))?.displayName === 'Rhein Phone' ? true : null), 'the branding and the tenant projected');

    await logoHost.stop();
    // Unreachable: each run of the job fails (so the queue retries it) instead of settling for "no logo".
    for (let i = 0; i < 2; i++) {
      await assert.rejects(storeBrandingLogo(db, subgraph.service.runtime.logger, job, guards), (error: { extensions?: Record<string, unknown> }) => {
        assert.deepEqual(
          [error.extensions?.['code'], error.extensions?.['dependency'], error.extensions?.['reason']],
          ['DEPENDENCY_UNAVAILABLE', `logo:${host}`, 'failed'],
        );
        return true;
      });
    }
    assert.equal(guards.guard(host).state, 'open');
    await assert.rejects(storeBrandingLogo(db, subgraph.service.runtime.logger, job, guards), (error: { extensions?: Record<string, unknown> }) => {
      assert.deepEqual([error.extensions?.['code'], error.extensions?.['reason']], ['DEPENDENCY_UNAVAILABLE', 'circuit-open']);
      return true;
    });
    const meanwhile = await brandingOf();
    assert.deepEqual([meanwhile.displayName, meanwhile.logo], ['Rhein Phone', null], 'documents show the display name, no logo');

    await logoHost.start();
    const before = logoHost.requests;
    await waitUntil(
      () =>
        storeBrandingLogo(db, subgraph.service.runtime.logger, job, guards).then(
          () => true,
          () => null,
        ),
      'the trial fetch after the open period to close the circuit',
    );
    assert.equal(guards.guard(host).state, 'closed');
    assert.equal(logoHost.requests, before + 1, 'while open nothing reached the host; the trial request did');
    const fetched = await brandingOf();
    assert.equal(fetched.logo?.mime, 'image/png');
    assert.deepEqual(fetched.logo?.data, PNG, 'documents carry the partner logo');
  });
});
