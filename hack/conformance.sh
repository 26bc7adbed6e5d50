#!/usr/bin/env bash
# make conformance: starts a fresh `make dev` environment and runs against it
#   - Microsoft's SCIM test collection (../shared/conformance, or $CONFORMANCE_COLLECTION) with
#     newman, on the azure provider where its expectations apply;
#   - the scimserver suite's conformance specs (scimserver/conformance_test.go): StrongDM's scimsdk
#     flows on generic, Okta's and Microsoft Entra ID's documented requests on okta and azure, and
#     JumpCloud's and OneLogin's on generic; the same specs that `go test` runs against envtest;
# then prints "N passed, N failed" per suite and fails if any check failed.
# newman comes from the npm registry into bin/newman; the control plane and manager from bin/
# ($MANAGER_BIN and $SCIM_DEV_BIN override the binaries).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="$ROOT/bin"
COLLECTION="${CONFORMANCE_COLLECTION:-$ROOT/../shared/conformance/microsoft-scim-tests.postman_collection.json}"
NEWMAN_VERSION=6.2.2
PORT="${CONFORMANCE_PORT:-18080}"
MANAGER_BIN="${MANAGER_BIN:-$BIN/manager}"
SCIM_DEV_BIN="${SCIM_DEV_BIN:-$BIN/scim-dev}"
TOKEN="conformance-$RANDOM$RANDOM"
BASE="http://127.0.0.1:$PORT"

out="$(mktemp -d "${TMPDIR:-/tmp}/scim-conformance.XXXXXX")"
log="$out/dev.log"
dev=""
cleanup() {
  if [ -n "$dev" ]; then kill -TERM "$dev" 2>/dev/null; wait "$dev" 2>/dev/null || true; fi
}
trap cleanup EXIT

# The test binary first: it takes a while to build, and needs no environment.
echo "conformance: building the scimserver suite" >&2
(cd "$ROOT" && go test -c -o "$out/scimserver.test" ./scimserver)

newman=""
if [ -f "$COLLECTION" ]; then
  newman="$BIN/newman/node_modules/.bin/newman"
  if [ ! -x "$newman" ]; then
    echo "conformance: installing newman $NEWMAN_VERSION into $BIN/newman" >&2
    npm install --silent --no-audit --no-fund --prefix "$BIN/newman" "newman@$NEWMAN_VERSION" >&2
  fi
else
  echo "conformance: no collection at $COLLECTION; Microsoft's collection is skipped" >&2
fi

# A dev environment of its own (DEV_DIR, ports), so that it can run beside `make dev`.
DEV_DIR="$out/dev" SCIM_ADDR="127.0.0.1:$PORT" SCIM_TOKEN="$TOKEN" METRICS_ADDR="127.0.0.1:0" \
  "$SCIM_DEV_BIN" --bin-dir "$BIN" --manager "$MANAGER_BIN" >"$log" 2>&1 &
dev=$!
for _ in $(seq 1 120); do
  if curl -fsS -o /dev/null -H "Authorization: Bearer $TOKEN" "$BASE/provisioning/azure/v2/ServiceProviderConfig" 2>/dev/null; then
    break
  fi
  kill -0 "$dev" 2>/dev/null || { echo "conformance: the dev environment exited:" >&2; tail -20 "$log" >&2; exit 1; }
  sleep 1
done

# json FILE SCRIPT runs SCRIPT with r, FILE's JSON, in node (which newman needs anyway).
json() { node -e "const r = JSON.parse(require('fs').readFileSync(process.argv[1], 'utf8')); $2" "$1"; }

report=()
failed=0
# record NAME PASSED FAILED adds a line to the report.
record() {
  report+=("$(printf '%-58s %s passed, %s failed' "$1:" "$2" "$3")")
  if [ "$3" != 0 ]; then failed=1; fi
}

if [ -n "$newman" ]; then
  echo "== Microsoft's SCIM test collection (newman, azure)"
  "$newman" run "$COLLECTION" --color off --reporters cli,json --reporter-json-export "$out/newman.json" \
    --env-var Protocol=http --env-var Server=127.0.0.1 --env-var Port=":$PORT" \
    --env-var Api=provisioning/azure/v2 --env-var token="$TOKEN" || true
  if [ -f "$out/newman.json" ]; then
    # Failed assertions, and failures that are no assertion (a request that got no answer).
    read -r passed bad < <(json "$out/newman.json" 'const a = r.run.stats.assertions;
      const errors = r.run.failures.filter(f => f.error.name !== "AssertionError").length;
      console.log(a.total - a.failed, a.failed + errors)')
    record "Microsoft's SCIM test collection (newman, azure)" "$passed" "$bad"
  else
    record "Microsoft's SCIM test collection (newman, azure)" 0 1
  fi
fi

# suite LABEL NAME runs the conformance specs of one suite against the environment.
suite() {
  echo "== $2"
  (cd "$ROOT/scimserver" &&
    SCIM_CONFORMANCE_URL="$BASE" SCIM_CONFORMANCE_TOKEN="$TOKEN" SCIM_CONFORMANCE_KUBECONFIG="$out/dev/kubeconfig" \
      "$out/scimserver.test" -test.run '^TestSCIMServer$' -test.count 1 \
      -ginkgo.label-filter "conformance && $1" -ginkgo.no-color -ginkgo.json-report "$out/$1.json") || true
  if [ -f "$out/$1.json" ]; then
    # Passed specs, and failed nodes of any kind (a spec, or the suite's set-up).
    read -r passed bad < <(json "$out/$1.json" 'const specs = r.flatMap(s => s.SpecReports || []);
      console.log(specs.filter(s => s.LeafNodeType === "It" && s.State === "passed").length,
        specs.filter(s => !["passed", "skipped", "pending"].includes(s.State)).length)')
    record "$2" "$passed" "$bad"
  else
    record "$2" 0 1
  fi
}
suite scimsdk "StrongDM's scimsdk flows (generic)"
suite okta "Okta's SCIM 2.0 requests (okta)"
suite entra "Microsoft Entra ID's requests, both dialects (azure)"
suite rfc-clients "JumpCloud's and OneLogin's requests (generic)"

cleanup
dev=""
echo
echo "conformance report (a fresh make dev environment at $BASE):"
printf '  %s\n' "${report[@]}"
if [ "$failed" != 0 ]; then
  echo "conformance: failures above; the reports and the dev environment's log are in $out" >&2
  exit 1
fi
rm -rf "$out"
