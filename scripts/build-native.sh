#!/usr/bin/env bash
# Compiles the PKCS#11 isolation shim (native/p11-isolate) into dist/native/, where the built
# member hosts find it (src/adapters/pkcs11/isolating-loader.ts). Called by `npm run build`.
# Without a C compiler the build still succeeds: members then load modules with `symbols: global`
# and say so in their capability report (an explicit `symbols: isolated` is refused).
set -euo pipefail
cd "$(dirname "$0")/.."
out=dist/native/libhsmkit-p11-isolate.so
mkdir -p dist/native
cc_bin="${CC:-cc}"
if ! command -v "$cc_bin" >/dev/null 2>&1; then
  echo "build-native: no C compiler ($cc_bin); $out not built, members default to symbols: global" >&2
  exit 0
fi
"$cc_bin" -O2 -shared -fPIC -o "$out.tmp" native/p11-isolate/p11-isolate.c -ldl
mv -f "$out.tmp" "$out"
echo "build-native: $out"
