#!/bin/sh
# Turns a built workspace into what the production image runs (Dockerfile, build stage, after `tsc -b`): the test
# harness and every development dependency removed, only the production dependencies of the remaining workspace
# projects installed again from the lockfile and the local store. tools/image/production-image.test.mjs runs this
# same script on a copy of the build context and proves that every service still loads.
set -eu
rm -rf packages/testing
find . -name node_modules -type d -prune -exec rm -rf {} +
CI=true pnpm install --prod --frozen-lockfile --offline --reporter=silent
