# One image for every Saldo service; docker-compose.yml picks the entry point per container.
FROM node:24-slim AS build
RUN npm install -g pnpm@10.34.9
WORKDIR /app
COPY pnpm-workspace.yaml pnpm-lock.yaml package.json ./
# pnpm install runs the Node version guard first (package.json "pnpm:devPreinstall").
COPY scripts/check-node.mjs scripts/check-node.mjs
# pnpm applies the repository's dependency patches (pnpm-workspace.yaml patchedDependencies) at install.
COPY patches patches
COPY packages packages
COPY subgraphs subgraphs
COPY gateway gateway
COPY schema schema
# The customer portal's sources: built into portal/dist below (its codegen validates it against schema/), served by the
# gateway at /portal (PORTAL_DIR in docker-compose.yml).
COPY portal portal
COPY tsconfig.base.json tsconfig.json ./
COPY scripts/production-install.sh scripts/
# Only the services and what they need: apps/, e2e/ and bench/ are development tools, not part of the image.
RUN pnpm install --frozen-lockfile && pnpm exec tsc -b gateway subgraphs/tenants subgraphs/billing subgraphs/usage-forecast subgraphs/white-label packages/identity \
 && node portal/scripts/build.mjs --force
# Then the test harness, the portal's sources (its built dist/ stays) and every development dependency go
# (tools/image/production-image.test.mjs proves it).
RUN sh scripts/production-install.sh

# The white-label worker drives the nginx container (docker-compose.yml): it checks every configuration with `nginx -t`
# before the reload, so it needs the nginx binary (the same major version as the serving container's).
FROM node:24-slim AS white-label-worker
RUN apt-get update && apt-get install -y --no-install-recommends nginx && rm -rf /var/lib/apt/lists/*
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app

FROM node:24-slim
ENV NODE_ENV=production
WORKDIR /app
COPY --from=build /app /app
USER node
