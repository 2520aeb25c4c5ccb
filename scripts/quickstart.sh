#!/usr/bin/env bash
# The main job on the embedded default: a SoftHSM2 dev token, a CA key generated inside it, a
# signature made by it and checked by OpenSSL, then the HTTPS service left running in the
# background (pid in $HSMKIT_HOME/hsmkit.pid). Safe to run again.
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

echo
echo "== 4. Development mutual-TLS material (openssl, EC P-256) in \$HSMKIT_HOME/tls"
# A dev CA, a server certificate for 127.0.0.1/localhost and one client certificate. For local
# development only: production certificates come from your own PKI (docs/service.md).
tls="$HSMKIT_HOME/tls"
mkdir -p "$tls"
chmod 700 "$tls"
if [ ! -f "$tls/client.pem" ]; then
  (
    cd "$tls"
    umask 077
    openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout ca.key -out ca.pem \
      -days 825 -subj "/CN=hsmkit dev CA" -addext basicConstraints=critical,CA:TRUE \
      -addext keyUsage=critical,keyCertSign,cRLSign 2>/dev/null
    issue() { # name, subject CN, extensions
      printf '%b' "$3" > "$1.ext"
      openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$1.key" -out "$1.csr" \
        -subj "/CN=$2" 2>/dev/null
      openssl x509 -req -in "$1.csr" -CA ca.pem -CAkey ca.key -set_serial "0x$(openssl rand -hex 8)" \
        -days 825 -out "$1.pem" -extfile "$1.ext" 2>/dev/null
      rm -f "$1.csr" "$1.ext"
    }
    issue server localhost 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\n'
    issue client quickstart-service 'extendedKeyUsage=clientAuth\n'
  )
  echo "made dev CA, server and client certificates"
else
  echo "dev TLS material exists already"
fi
if ! grep -q '^service:' "$HSMKIT_HOME/hsmkit.yaml"; then
  cat >> "$HSMKIT_HOME/hsmkit.yaml" <<EOY

# The HTTP service (hsmkit serve --tls), added by the quickstart. Dev certificates only.
service:
  listen: 127.0.0.1:8443
  metrics_listen: 127.0.0.1:9464
  tls:
    certificate: tls/server.pem
    key: tls/server.key
    client_ca: tls/ca.pem
  identities:
    # The client certificate with subject CN quickstart-service acts as admin (mTLS only).
    - name: quickstart-service
      match: cn:quickstart-service
      kind: service
      roles: [admin]
EOY
  echo "added a service block to $HSMKIT_HOME/hsmkit.yaml"
fi

echo
echo "== 5. The service, in the background (HTTPS with mutual TLS on 127.0.0.1:8443)"
pidfile="$HSMKIT_HOME/hsmkit.pid"
if [ -f "$pidfile" ] && kill -0 "$(cat "$pidfile")" 2>/dev/null \
  && ps -p "$(cat "$pidfile")" -o args= | grep -q 'hsmkit'; then
  echo "stopping the service started by an earlier quickstart (pid $(cat "$pidfile"))"
  kill "$(cat "$pidfile")"
  for _ in $(seq 50); do kill -0 "$(cat "$pidfile")" 2>/dev/null || break; sleep 0.1; done
fi
nohup $hsmkit serve --tls >"$HSMKIT_HOME/hsmkit-serve.log" 2>&1 </dev/null &
echo $! >"$pidfile"
curl_tls=(--silent --show-error --cacert "$tls/ca.pem" --cert "$tls/client.pem" --key "$tls/client.key")
for _ in $(seq 100); do
  curl "${curl_tls[@]}" --fail https://127.0.0.1:8443/readyz >/dev/null 2>&1 && break
  kill -0 "$(cat "$pidfile")" 2>/dev/null || { cat "$HSMKIT_HOME/hsmkit-serve.log" >&2; exit 1; }
  sleep 0.2
done
curl "${curl_tls[@]}" --fail https://127.0.0.1:8443/v1/keys/quickstart-ca/public >/dev/null
echo "the service answers (pid $(cat "$pidfile"), log $HSMKIT_HOME/hsmkit-serve.log)"

cat <<EON

Done. The CA private key never left the HSM; OpenSSL verified its signature.
The service is running (dev mutual TLS; your client certificate is in $tls):
  API        https://127.0.0.1:8443/v1/keys      (OpenAPI: https://127.0.0.1:8443/openapi.json)
  Metrics    http://127.0.0.1:9464/metrics
  Dashboard  http://127.0.0.1:9464/dashboard   (live: members, throughput, latency, alerts, audit)
  Try it     curl --cacert $tls/ca.pem --cert $tls/client.pem --key $tls/client.key https://127.0.0.1:8443/v1/keys
  Sign       curl --cacert $tls/ca.pem --cert $tls/client.pem --key $tls/client.key \\
               -H 'content-type: application/json' \\
               -d '{"key":"quickstart-ca","data":"'\$(printf hello | base64)'"}' https://127.0.0.1:8443/v1/sign
  Stop it    kill \$(cat $pidfile)
Where to look next:
  bin/hsmkit hsm info          module, token, slot, mechanisms (and the pkcs11-tool line to reach the same token)
  bin/hsmkit key list          keys on the token
  bin/hsmkit --help            every command (each takes --json)
  $HSMKIT_HOME/hsmkit.yaml     the configuration
  docs/                        configuration, errors, architecture, service
EON
