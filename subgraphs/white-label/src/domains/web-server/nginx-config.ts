import { DomainPurpose } from '../entities/custom-domain.js';

/** Where nginx listens and what it proxies to. */
export interface NginxLayout {
  /** Absolute prefix directory (generations, certificates, pid, logs, temp). */
  prefix: string;
  listenAddress: string;
  httpPort: number;
  httpsPort: number;
  workerProcesses: string;
  /** host:port of the gateway (GraphQL, and the portal's origin under /portal). */
  gateway: string;
  /** host:port of a white-label instance answering /.well-known/acme-challenge/. */
  challengeResponder: string;
}

/** One domain as the web server serves it. */
export interface ServedDomain {
  id: string;
  hostname: string;
  purpose: DomainPurpose;
  certificatePath: string;
  keyPath: string;
  /** Send Strict-Transport-Security: only after the domain was first served over HTTPS successfully. */
  hsts: boolean;
}

/** Which lines of the rendered sites file belong to which domain (to attribute `nginx -t` errors). */
export interface LineRange {
  domainId: string;
  first: number;
  last: number;
}

/** The path at which each generation answers its own id over plain HTTP: how a sync knows a reload took effect. */
export const GENERATION_PATH = '/.well-known/saldo-web-server-generation';

/** `http://host:port` -> `host:port` for nginx's `server` directive. */
export function upstreamAddress(url: string): string {
  const parsed = new URL(url);
  const port = parsed.port || (parsed.protocol === 'https:' ? '443' : '80');
  return `${parsed.hostname}:${port}`;
}

/** nginx string literal: the generator writes only validated hostnames and its own paths, quoting is belt and braces. */
function quote(value: string): string {
  return `"${value.replace(/["\\$]/g, (char) => `\\${char}`)}"`;
}

/** The generation's main configuration: everything nginx runs with, the sites included from the same generation. */
export function renderMainConfig(layout: NginxLayout, generationDir: string, generation: string, domains: readonly ServedDomain[]): string {
  const p = layout.prefix;
  const listen = (port: number) => `${layout.listenAddress}:${port}`;
  const httpsHosts = domains.map((domain) => `        ${domain.hostname} 1;`).join('\n');
  return `# Written by Saldo's white-label service (generation ${generation}); do not edit: the next sync replaces it.
worker_processes ${layout.workerProcesses};
pid ${quote(`${p}/nginx.pid`)};
error_log ${quote(`${p}/logs/error.log`)} warn;

events {
    worker_connections 4096;
}

http {
    access_log off;
    server_tokens off;
    client_body_temp_path ${quote(`${p}/temp/client_body`)};
    proxy_temp_path ${quote(`${p}/temp/proxy`)};
    fastcgi_temp_path ${quote(`${p}/temp/fastcgi`)};
    uwsgi_temp_path ${quote(`${p}/temp/uwsgi`)};
    scgi_temp_path ${quote(`${p}/temp/scgi`)};

    # Many hostnames: size the lookup tables for them.
    server_names_hash_max_size 65536;
    server_names_hash_bucket_size 128;
    map_hash_max_size 65536;
    map_hash_bucket_size 128;

    ssl_protocols TLSv1.2 TLSv1.3;
    ssl_prefer_server_ciphers off;
    ssl_session_cache shared:saldo_tls:20m;
    ssl_session_timeout 1d;

    # Upgrade WebSockets (graphql-ws); keep upstream connections alive otherwise.
    map $http_upgrade $saldo_connection {
        default upgrade;
        '' '';
    }
    # Hostnames served over HTTPS: plain HTTP redirects there.
    map $host $saldo_https_host {
        hostnames;
        default 0;
${httpsHosts}
    }

    upstream saldo_gateway {
        server ${layout.gateway};
        keepalive 32;
    }
    upstream saldo_challenge_responder {
        server ${layout.challengeResponder};
        keepalive 4;
    }

    proxy_http_version 1.1;
    proxy_set_header Host $host;
    proxy_set_header X-Forwarded-Host $host;
    proxy_set_header X-Forwarded-For $proxy_add_x_forwarded_for;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_set_header Upgrade $http_upgrade;
    proxy_set_header Connection $saldo_connection;
    # Subscriptions (SSE, WebSocket) stream for as long as the client stays.
    proxy_buffering off;
    proxy_read_timeout 1h;
    proxy_send_timeout 1h;

    # Plain HTTP for every name: ACME http-01 challenges, the generation marker, and redirects to HTTPS.
    server {
        listen ${listen(layout.httpPort)} default_server;
        server_name _;
        location /.well-known/acme-challenge/ {
            proxy_pass http://saldo_challenge_responder;
        }
        location = ${GENERATION_PATH} {
            default_type text/plain;
            return 200 ${quote(generation)};
        }
        location / {
            if ($saldo_https_host) {
                return 308 https://$host$request_uri;
            }
            return 404;
        }
    }

    # TLS for names that are not (or no longer) ours: refuse the handshake rather than show another certificate.
    server {
        listen ${listen(layout.httpsPort)} ssl http2 default_server;
        server_name _;
        ssl_reject_handshake on;
    }

    include ${quote(`${generationDir}/sites.conf`)};
}
`;
}

function locations(purpose: DomainPurpose): string {
  const portal =
    purpose === DomainPurpose.PORTAL
      ? `        location = / {
            return 302 /portal/;
        }
        # The portal is served from the gateway's origin under /portal.
        location /portal {
            proxy_pass http://saldo_gateway;
        }`
      : `        location /portal {
            return 404;
        }`;
  return `${portal}
        location /.well-known/acme-challenge/ {
            proxy_pass http://saldo_challenge_responder;
        }
        location / {
            proxy_pass http://saldo_gateway;
        }`;
}

/** One server block per domain, in one file; `ranges` maps its lines back to domains. */
export function renderSites(layout: NginxLayout, domains: readonly ServedDomain[]): { text: string; ranges: LineRange[] } {
  const lines: string[] = ['# One server block per ACTIVE custom domain.'];
  const ranges: LineRange[] = [];
  for (const domain of domains) {
    const block = `    server {
        listen ${layout.listenAddress}:${layout.httpsPort} ssl http2;
        server_name ${domain.hostname};
        ssl_certificate ${quote(domain.certificatePath)};
        ssl_certificate_key ${quote(domain.keyPath)};
${domain.hsts ? '        add_header Strict-Transport-Security "max-age=31536000" always;\n' : ''}${locations(domain.purpose)}
    }`.split('\n');
    ranges.push({ domainId: domain.id, first: lines.length + 1, last: lines.length + block.length });
    lines.push(...block);
  }
  return { text: `${lines.join('\n')}\n`, ranges };
}
