#!/usr/bin/env bash
# Go→Go baseline: build machinery-interop, start a Go worker, run every send scenario against it,
# stop the worker (SIGTERM, by PID) and print "N passed, M failed".
#
#   interop/go/smoke.sh [BROKER_URL [BACKEND_URL]]
#
# Defaults: BROKER / RESULT_BACKEND from the environment, else REDIS_URL, else redis://127.0.0.1:6379.
# A private queue ($SMOKE_QUEUE, default interop_go_smoke; also the AMQP binding key) keeps it away from other tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
"$GO" build -o bin/machinery-interop .

BROKER=${1:-${BROKER:-${REDIS_URL:-redis://127.0.0.1:6379}}}
BACKEND=${2:-${RESULT_BACKEND:-$BROKER}}
QUEUE=${SMOKE_QUEUE:-interop_go_smoke}
TMP=$(mktemp -d)
ARGS=(-broker "$BROKER" -backend "$BACKEND" -queue "$QUEUE" -binding-key "$QUEUE")

bin/machinery-interop worker "${ARGS[@]}" >"$TMP/worker.out" 2>"$TMP/worker.err" &
WPID=$!
stop_worker() {
  if kill -0 "$WPID" 2>/dev/null; then
    kill -TERM "$WPID" 2>/dev/null || true
    for _ in $(seq 100); do kill -0 "$WPID" 2>/dev/null || break; sleep 0.1; done
    kill -KILL "$WPID" 2>/dev/null || true
  fi
  wait "$WPID" 2>/dev/null || true
}
trap 'stop_worker; rm -rf "$TMP"' EXIT

for _ in $(seq 300); do grep -q READY "$TMP/worker.out" && break; sleep 0.1; done
grep -q READY "$TMP/worker.out" || { echo "worker did not become READY:" >&2; cat "$TMP/worker.err" >&2; exit 1; }

set +e
bin/machinery-interop send "${ARGS[@]}" -scenario all -timeout 30s >"$TMP/send.jsonl" 2>"$TMP/send.err"
set -e
passed=0 failed=0
while IFS= read -r line; do
  name=$(sed -E 's/^\{"scenario":"([^"]*)".*/\1/' <<<"$line")
  if grep -q '"ok":true' <<<"$line"; then
    passed=$((passed + 1)); echo "PASS $name"
  else
    failed=$((failed + 1)); echo "FAIL $name: $line"
  fi
done <"$TMP/send.jsonl"
[[ $((passed + failed)) -gt 0 ]] || { cat "$TMP/send.err" >&2; failed=1; }
echo "go-interop-smoke: $passed passed, $failed failed"
[[ $failed -eq 0 ]]
