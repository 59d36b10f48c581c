import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { pickFromRenewalWindow, twoThirdsInto } from './acme/certificate-info.js';
import { DomainPurpose } from './entities/custom-domain.js';
import { validateHostname } from './hostname.js';
import { renderSites, type NginxLayout } from './web-server/nginx-config.js';

const policy = { platformHostnames: ['saldo.io'], allowedReservedSuffixes: [] };

describe('custom domain building blocks', () => {
  it('normalizes hostnames and finds the registered domain with the Public Suffix List', () => {
    assert.deepEqual(validateHostname(' Portal.Partner.CO.UK. ', policy), { hostname: 'portal.partner.co.uk', registeredDomain: 'partner.co.uk' });
    assert.deepEqual(validateHostname('bücher.example.de', policy), { hostname: 'xn--bcher-kva.example.de', registeredDomain: 'example.de' });
    assert.equal(validateHostname('a.b.api.partner.com', policy).registeredDomain, 'partner.com');
    const refused = (hostname: string) => {
      try {
        validateHostname(hostname, policy);
      } catch (error) {
        return (error as { extensions: { reason: string } }).extensions.reason;
      }
      return 'accepted';
    };
    assert.equal(refused('app.saldo.io'), 'PLATFORM_NAME');
    assert.equal(refused('portal.partner.example'), 'INTERNAL_NAME', 'reserved names only where configured');
    assert.equal(validateHostname('portal.partner.example', { ...policy, allowedReservedSuffixes: ['example'] }).registeredDomain, 'partner.example');
    assert.equal(refused('github.io'), 'accepted', 'the ICANN section decides; private suffixes are ordinary names here');
  });

  it('renews at two thirds of the lifetime, or inside the window the CA suggests (ARI)', () => {
    const notBefore = new Date('2026-01-01T00:00:00Z');
    const notAfter = new Date('2026-04-01T00:00:00Z'); // 90 days
    assert.equal(twoThirdsInto(notBefore, notAfter).toISOString(), '2026-03-02T00:00:00.000Z');
    const window = { suggestedWindow: { start: '2026-03-10T00:00:00Z', end: '2026-03-12T00:00:00Z' } };
    assert.equal(pickFromRenewalWindow(window, () => 0)?.toISOString(), '2026-03-10T00:00:00.000Z');
    assert.equal(pickFromRenewalWindow(window, () => 0.5)?.toISOString(), '2026-03-11T00:00:00.000Z');
    assert.equal(pickFromRenewalWindow({ suggestedWindow: { start: 'soon' } }), null);
    assert.equal(pickFromRenewalWindow({ suggestedWindow: { start: '2026-03-12T00:00:00Z', end: '2026-03-10T00:00:00Z' } }), null);
  });

  it('maps every line of the rendered server blocks back to its domain', () => {
    const layout: NginxLayout = {
      prefix: '/p',
      listenAddress: '127.0.0.1',
      httpPort: 80,
      httpsPort: 443,
      workerProcesses: '1',
      gateway: '127.0.0.1:4000',
      challengeResponder: '127.0.0.1:4004',
    };
    const domains = ['a.partner.com', 'b.partner.com'].map((hostname, index) => ({
      id: `id-${index}`,
      hostname,
      purpose: index ? DomainPurpose.API : DomainPurpose.PORTAL,
      certificatePath: `/p/certs/${index}.crt`,
      keyPath: `/p/certs/${index}.key`,
      hsts: index === 1,
    }));
    const { text, ranges } = renderSites(layout, domains);
    const lines = text.split('\n');
    for (const range of ranges) {
      const block = lines.slice(range.first - 1, range.last).join('\n');
      const domain = domains.find((candidate) => candidate.id === range.domainId)!;
      assert.match(block, new RegExp(`server_name ${domain.hostname.replaceAll('.', '\\.')};`));
      assert.equal(block.includes('Strict-Transport-Security'), domain.hsts);
      assert.equal(block.includes('return 302 /portal/'), domain.purpose === DomainPurpose.PORTAL);
    }
  });
});
