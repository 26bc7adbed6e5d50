#!/usr/bin/env bash
# Runs Microsoft's SCIM test collection (../shared/conformance, or $CONFORMANCE_COLLECTION) with
# newman against a fresh `make dev` environment, on the azure provider where its expectations apply.
# newman comes from the npm registry into bin/newman; the control plane and manager from bin/.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/bin"
COLLECTION="${CONFORMANCE_COLLECTION:-$ROOT/../shared/conformance/microsoft-scim-tests.postman_collection.json}"
NEWMAN_VERSION=6.2.2
PORT="${CONFORMANCE_PORT:-18080}"
TOKEN="conformance-$RANDOM$RANDOM"

if [ ! -f "$COLLECTION" ]; then
  echo "conformance: no collection at $COLLECTION; skipped" >&2
  exit 0
fi
if [ ! -x "$BIN/newman/node_modules/.bin/newman" ]; then
  echo "conformance: installing newman $NEWMAN_VERSION into $BIN/newman" >&2
  npm install --silent --no-audit --no-fund --prefix "$BIN/newman" "newman@$NEWMAN_VERSION" >&2
fi

log="$BIN/conformance-dev.log"
SCIM_ADDR="127.0.0.1:$PORT" SCIM_TOKEN="$TOKEN" "$BIN/scim-dev" --bin-dir "$BIN" --manager "$BIN/manager" >"$log" 2>&1 &
dev=$!
trap 'kill -TERM $dev 2>/dev/null; wait $dev 2>/dev/null || true' EXIT

for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "http://127.0.0.1:$PORT/provisioning/azure/v2/ServiceProviderConfig" 2>/dev/null; then
    break
  fi
  kill -0 $dev 2>/dev/null || { echo "conformance: the dev environment exited:" >&2; tail -20 "$log" >&2; exit 1; }
  sleep 1
done

"$BIN/newman/node_modules/.bin/newman" run "$COLLECTION" --color off \
  --env-var Protocol=http --env-var Server=127.0.0.1 --env-var Port=":$PORT" \
  --env-var Api=provisioning/azure/v2 --env-var token="$TOKEN"
