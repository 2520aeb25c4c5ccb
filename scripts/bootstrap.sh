#!/usr/bin/env bash
# Installs what hsmkit needs on Debian 12 and builds it. Idempotent: a second run installs nothing.
# Needs root for apt-get (CI and the project's machines run as root); with sudo available it uses it.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: SoftHSM2 (dev token), OpenSC (pkcs11-tool, pkcs11-spy for tests), OpenSSL (verifies
# everything hsmkit produces), a C compiler (bench baseline, native addons). The vendor conformance
# suite (test/integration/conformance) adds four more PKCS#11 implementations: the opencryptoki soft
# token, NSS softokn, tpm2-pkcs11 over swtpm + tpm2-abrmd (on a private D-Bus), and p11-kit's RPC
# client/server.
PACKAGES=(softhsm2 opensc opensc-pkcs11 openssl gcc make g++ python3
  opencryptoki libnss3 libnss3-tools swtpm swtpm-tools libtpm2-pkcs11-1 libtpm2-pkcs11-tools
  tpm2-abrmd libtss2-tcti-tabrmd0 tpm2-tools p11-kit p11-kit-modules dbus
  chromium fonts-dejavu-core # chromium: the dashboard's browser test (playwright-core drives it)
  postgresql # postgresql: the tests start private servers (test/support/postgres.ts), never the system one
  faketime) # faketime: test/chaos/clock-jump.test.ts steps the wall clock of a real hsmkit serve

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  SUDO=""
  if [ "$(id -u)" -ne 0 ]; then
    command -v sudo >/dev/null || { echo "bootstrap: need root to install: ${missing[*]}" >&2; exit 1; }
    SUDO="sudo"
  fi
  echo "bootstrap: installing ${missing[*]}"
  if [[ " ${missing[*]} " == *" postgresql "* ]]; then
    # Debian's postgresql would create and start a "main" cluster; the tests need only the binaries.
    $SUDO mkdir -p /etc/postgresql-common
    echo "create_main_cluster = false" | $SUDO tee /etc/postgresql-common/createcluster.conf >/dev/null
  fi
  $SUDO apt-get update -qq
  # confold: keep the createcluster.conf written above instead of asking about it.
  DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends \
    -o Dpkg::Options::=--force-confdef -o Dpkg::Options::=--force-confold "${missing[@]}" >/dev/null
fi

# Node dependencies, exactly as locked. Reinstall only when the lock changed since the last install.
stamp=node_modules/.hsmkit-lock-stamp
if [ ! -f "$stamp" ] || ! cmp -s package-lock.json "$stamp"; then
  npm ci --no-audit --no-fund --loglevel=error
  cp package-lock.json "$stamp"
fi

npm run --silent build
