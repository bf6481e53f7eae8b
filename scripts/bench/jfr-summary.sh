#!/usr/bin/env bash
# Where the CPU went in the recordings of `scripts/bench/outside.sh --jfr DIR`: per recording, the CPU load of
# each thread (JIT compilers, the caller, Lettuce's event loops, the virtual-thread carriers) and the hottest
# Java methods (JFR samples Java frames; time in the kernel shows up as System load of the thread), then the
# JIT's share (io.machinery.benchmarks.outside.JitSummary: compile time before and during the drain or the sends,
# by package; it needs every compilation recorded, so record with
# --jfr-settings "profile,jdk.Compilation#threshold=0ms").
#
#   scripts/bench/jfr-summary.sh DIR [ROWS]
set -euo pipefail
DIR=${1:?usage: jfr-summary.sh DIR [ROWS]}
ROWS=${2:-15}
JAVA_HOME=${JAVA_HOME:-$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && scripts/find-jdk.sh)}
for f in "$DIR"/*.jfr; do
  echo "=== $(basename "$f")"
  "$JAVA_HOME/bin/jfr" view --width 140 thread-cpu-load "$f" | sed -n "4,$((ROWS + 5))p"
  "$JAVA_HOME/bin/jfr" view --width 140 hot-methods "$f" | sed -n "4,$((ROWS + 5))p"
done
JAR=$(dirname "${BASH_SOURCE[0]}")/../../machinery-benchmarks/target/benchmarks.jar
if [[ -r $JAR ]]; then # built by outside.sh
  "$JAVA_HOME/bin/java" -cp "$JAR" io.machinery.benchmarks.outside.JitSummary "$DIR" "$ROWS"
fi
