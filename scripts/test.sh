#!/usr/bin/env bash
# Bootstraps (system packages, npm ci, build), then type-checks, lints and runs every test with
# Node's test runner against real PKCS#11 modules.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh
npm run --silent typecheck
npm run --silent lint
mapfile -t files < <(find src test -name '*.test.ts' -not -path '*/node_modules/*' | sort)
# The whole run's output and temp files are scanned for the test PINs afterwards (issue 11):
# fixtures record every PIN they draw in a 0600 file the scan reads and deletes.
run_dir=$(mktemp -d)
# 711: others may pass through (the private PostgreSQL runs as the postgres user with its data dir
# under tmp/) but not list it; the PIN record inside is 0600.
chmod 711 "$run_dir"
mkdir -m 755 "$run_dir/tmp"
set +e
HSMKIT_TEST_PIN_LOG="$run_dir/pins" TMPDIR="$run_dir/tmp" \
  node --import tsx --test --test-timeout=600000 "${files[@]}" 2>&1 | tee "$run_dir/test.log"
tests=${PIPESTATUS[0]}
node --import tsx scripts/scan-test-run.mts "$run_dir"
scan=$?
set -e
rm -rf "$run_dir"
if [[ $tests -ne 0 ]]; then exit "$tests"; fi
exit "$scan"
