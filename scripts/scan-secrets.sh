#!/usr/bin/env bash
# Scans files (e.g. a captured full test log, a store database, an audit export) for secrets
# without ever printing one. The secrets come from the environment, one per line:
#
#   HSMKIT_SCAN_SECRETS="$(cat secrets/user-pin secrets/so-pin)" scripts/scan-secrets.sh test.log hsmkit.db*
#
# Each secret is searched as given, as lowercase and uppercase hex, and as base64 (no padding).
# Prints "FILE: secret #N (encoding)" for each hit and exits 1 if any; 0 when nothing is found;
# 2 on a usage error. Secrets shorter than 4 characters are refused (they would match everywhere).
set -euo pipefail

if [[ $# -eq 0 ]]; then
  echo "usage: HSMKIT_SCAN_SECRETS=\$'pin1\\npin2' $0 FILE..." >&2
  exit 2
fi
if [[ -z "${HSMKIT_SCAN_SECRETS:-}" ]]; then
  echo "scan-secrets: HSMKIT_SCAN_SECRETS is empty (one secret per line)" >&2
  exit 2
fi

work=$(mktemp -d)
chmod 700 "$work"
trap 'rm -rf "$work"' EXIT

n=0
while IFS= read -r secret || [[ -n "$secret" ]]; do
  [[ -z "$secret" ]] && continue
  n=$((n + 1))
  if [[ ${#secret} -lt 4 ]]; then
    echo "scan-secrets: secret #$n is shorter than 4 characters; refusing to scan for it" >&2
    exit 2
  fi
  hex=$(printf '%s' "$secret" | od -An -v -tx1 | tr -d ' \n')
  printf '%s\n' "$secret" >"$work/$n.plain"
  printf '%s\n' "$hex" >"$work/$n.hex"
  printf '%s\n' "${hex^^}" >"$work/$n.HEX"
  printf '%s\n' "$(printf '%s' "$secret" | base64 -w0 | tr -d '=')" >"$work/$n.base64"
done <<<"$HSMKIT_SCAN_SECRETS"

hits=0
for file in "$@"; do
  if [[ ! -r "$file" ]]; then
    echo "scan-secrets: cannot read $file" >&2
    exit 2
  fi
  for pattern in "$work"/*.*; do
    id=$(basename "$pattern")
    # -a: binary files (databases) are searched as text; -F: fixed strings; -q: never print a match.
    if grep -aqF -f "$pattern" -- "$file"; then
      echo "$file: secret #${id%%.*} (${id#*.})"
      hits=$((hits + 1))
    fi
  done
done

if [[ $hits -gt 0 ]]; then
  echo "scan-secrets: $hits hit(s) in $# file(s)" >&2
  exit 1
fi
echo "scan-secrets: $n secret(s), $# file(s), no hits"
