#!/bin/sh
# Turns a built workspace into what the production image runs (Dockerfile, build stage, after `tsc -b` and the portal's
# build): the test harness, the portal's sources (only its built portal/dist is served) and every development dependency
# removed, only the production dependencies of the remaining workspace projects installed again from the lockfile and
# the local store. tools/image/production-image.test.mjs runs this
# same script on a copy of the build context and proves that every service still loads.
set -eu
rm -rf packages/testing
# The gateway serves portal/dist (PORTAL_DIR); the sources, codegen and build tooling stay out of the image.
if [ -d portal ]; then
  [ -f portal/dist/index.html ] || { echo "portal/dist is not built (node portal/scripts/build.mjs)" >&2; exit 1; }
  find portal -mindepth 1 -maxdepth 1 ! -name dist -exec rm -rf {} +
fi
find . -name node_modules -type d -prune -exec rm -rf {} +
CI=true pnpm install --prod --frozen-lockfile --offline --reporter=silent
