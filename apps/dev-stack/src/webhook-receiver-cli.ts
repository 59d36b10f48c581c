import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Webhook } from 'standardwebhooks';

// `pnpm webhook-receiver [--port 4999] [--secret whsec_...]`: a local receiver for trying Saldo's webhooks. Prints every
// request; with the endpoint's secret it checks the Standard Webhooks signature (the standardwebhooks package).
const { values } = parseArgs({ options: { port: { type: 'string', default: '4999' }, secret: { type: 'string' } } });
const port = Number(values.port);
const verifier = values.secret ? new Webhook(values.secret) : null;

const server = createServer((request, response) => {
  const chunks: Buffer[] = [];
  request.on('data', (chunk: Buffer) => chunks.push(chunk));
  request.on('end', () => {
    const body = Buffer.concat(chunks).toString('utf8');
    const headers = {
      'webhook-id': String(request.headers['webhook-id'] ?? ''),
      'webhook-timestamp': String(request.headers['webhook-timestamp'] ?? ''),
      'webhook-signature': String(request.headers['webhook-signature'] ?? ''),
    };
    let verdict = 'not checked (start with --secret whsec_... to verify)';
    if (verifier) {
      try {
        verifier.verify(body, headers);
        verdict = 'VALID';
      } catch (error) {
        verdict = `INVALID (${(error as Error).message})`;
      }
    }
    let pretty = body;
    try {
      pretty = JSON.stringify(JSON.parse(body), null, 2);
    } catch {
      // not JSON: shown as it came
    }
    process.stdout.write(
      `\n${new Date().toISOString()} ${request.method} ${request.url}\n` +
        `  webhook-id:        ${headers['webhook-id']}\n  webhook-timestamp: ${headers['webhook-timestamp']}\n  webhook-signature: ${headers['webhook-signature']}\n` +
        `  signature:         ${verdict}\n${pretty}\n`,
    );
    response.writeHead(204).end();
  });
});
server.listen(port, '127.0.0.1', () => process.stdout.write(`Webhook receiver listening on http://localhost:${port}/hooks (Ctrl-C stops)\n`));
process.on('SIGINT', () => server.close(() => process.exit(0)));
