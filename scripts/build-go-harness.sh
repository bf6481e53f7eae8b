#!/usr/bin/env bash
# Builds the Go side of the interop tests: interop/go (the real Go Machinery v2) into
# interop/go/bin/machinery-interop, with the Go toolchain the tests use (`go` on PATH, else /usr/local/go/bin/go).
#
#   scripts/build-go-harness.sh               build now (quick when nothing changed: Go's build cache)
#   scripts/build-go-harness.sh --background  start the build and return at once; its output goes to
#                                             interop/go/bin/build.log and its PID to interop/go/bin/build.pid
#
# Why in the background: on a machine whose Go build cache is cold, the build compiles about 570 packages (Go
# Machinery, the AWS, Google Cloud and MongoDB clients): 1 min 40 s and 3 CPU-minutes on 2 cores. The interop
# module runs last in `make test`, so a build started there lengthened the run by about that much. `make test`
# starts it before the Java build instead, at the lowest priority (nice 19), beside the first modules, which
# build one at a time. With a cold Go cache it still slows them: `core` took 54 s longer at nice 19 (69 s at
# normal priority), against about 1 min 40 s for the build in the interop module.
# The interop tests (GoHarness) wait for a build still running, then run `go build` themselves, which finds the
# binary up to date. Without Go it does nothing: the interop tests say what is missing.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../interop/go"
go=$(command -v go || true)
[[ -n $go ]] || go=/usr/local/go/bin/go
if [[ ! -x $go ]]; then
  echo "build-go-harness: no Go toolchain; skipped (the interop tests will say what is missing)" >&2
  exit 0
fi
mkdir -p bin
export GOFLAGS=-mod=mod
if [[ ${1:-} == --background ]]; then
  # setsid + & : owns no terminal and no pipe of the caller, so make does not wait for it; $! is go's PID
  # (setsid and nice exec it)
  setsid nice -n 19 "$go" build -o bin/machinery-interop . </dev/null >bin/build.log 2>&1 &
  echo $! >bin/build.pid
  echo "build-go-harness: building interop/go in the background (PID $!, log interop/go/bin/build.log)"
  exit 0
fi
exec "$go" build -o bin/machinery-interop .
