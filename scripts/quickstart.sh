#!/usr/bin/env bash
# The main job on the embedded default: a SoftHSM2 dev token, a CA key generated inside it, a
# signature made by it and checked by OpenSSL. Safe to run again.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/bootstrap.sh

HSMKIT_HOME="${HSMKIT_HOME:-$HOME/.hsmkit}"
export HSMKIT_HOME
hsmkit=bin/hsmkit

echo "== 1. Development HSM (SoftHSM2) in $HSMKIT_HOME"
$hsmkit init --dev

echo
echo "== 2. A CA key generated inside the HSM (EC P-384, non-extractable)"
if $hsmkit key show quickstart-ca >/dev/null 2>&1; then
  echo "key quickstart-ca exists already:"
  $hsmkit key show quickstart-ca
else
  $hsmkit key generate --type ec-p384 --label quickstart-ca --meta purpose=root-ca --meta owner=quickstart
fi

echo
echo "== 3. Sign with it in the HSM, verify with OpenSSL"
work="$HSMKIT_HOME/quickstart"
mkdir -p "$work"
printf 'hsmkit quickstart %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" > "$work/message.txt"
$hsmkit key public quickstart-ca --out "$work/quickstart-ca.pub.pem" --force
$hsmkit sign --key quickstart-ca --in "$work/message.txt" --out "$work/message.sig" --force
openssl dgst -sha256 -verify "$work/quickstart-ca.pub.pem" -signature "$work/message.sig" "$work/message.txt"

cat <<EON

Done. The CA private key never left the HSM; OpenSSL verified its signature.
Where to look next:
  bin/hsmkit hsm info          module, token, slot, mechanisms (and the pkcs11-tool line to reach the same token)
  bin/hsmkit key list          keys on the token
  bin/hsmkit --help            every command (each takes --json)
  $HSMKIT_HOME/hsmkit.yaml     the configuration
  docs/                        configuration, errors, architecture
EON
