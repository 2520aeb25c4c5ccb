#!/usr/bin/env bash
# Bootstraps (system packages, npm ci, build), then type-checks, lints and runs every test with
# Node's test runner against real PKCS#11 modules.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent typecheck
npm run --silent lint
mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
exec node --import tsx --test --test-timeout=600000 "${files[@]}"
