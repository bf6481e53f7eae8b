#!/usr/bin/env bash
# The outside-in benchmark (docs/benchmarks.md, "Outside in"): separate producer and worker processes for
# Machinery for Java, Go Machinery v2, Asynq and a bare Lettuce program, side by side in one run; prints one
# markdown table; with --systems java-amqp,go-machinery-amqp the same two libraries on their AMQP broker (RabbitMQ from
# AMQP_URL, Redis backend). Arguments go to io.machinery.benchmarks.outside.OutsideBenchmark (--help), e.g.
#
#   scripts/bench/outside.sh                                   # 100,000 tasks, concurrency 1,10,100, every system
#   scripts/bench/outside.sh --tasks 20000 --concurrency 10 --systems java,go-machinery
#   scripts/bench/outside.sh --concurrency 10 --jfr target/jfr # JFR recordings of the Java producer and worker
#   scripts/bench/outside.sh scale [--proofs sleepers,drain,chord ...]  # the scale proofs (ScaleBenchmark --help)
#
# Redis: REDIS_URL (from $RUN_DIR/env when there) with database 9, which is FLUSHed before and after every row;
# --redis redis://host:port/db to change it. Set SKIP_BUILD=1 to reuse the built jar and Go binary
# (each is built when missing).
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
RUN_DIR=${RUN_DIR:-/tmp/machinery-services}
if [[ -r $RUN_DIR/env ]]; then . "$RUN_DIR/env"; fi
JAVA_HOME=${JAVA_HOME:-$(scripts/find-jdk.sh)}
export JAVA_HOME # the Maven wrapper below runs on it too, not on whatever java is on the PATH
GO=${GO:-$(command -v go || echo /usr/local/go/bin/go)}
# SKIP_BUILD reuses what is built; what is missing (a fresh clone) is built all the same
if [[ -z ${SKIP_BUILD:-} || ! -f machinery-benchmarks/target/benchmarks.jar ]]; then
  ./mvnw -B -q -pl machinery-benchmarks -am -DskipTests package
fi
if [[ ${1:-} != scale && (-z ${SKIP_BUILD:-} || ! -x machinery-benchmarks/go/bin/outside-go) ]]; then
  # the scale proofs run Java only
  (cd machinery-benchmarks/go && GOFLAGS=-mod=mod "$GO" build -o bin/outside-go .)
fi
# a private copy: the child JVMs start from it while the run lasts, whatever is rebuilt meanwhile
JAR=$(mktemp -d /tmp/outside-bench-jar.XXXXXX)/benchmarks.jar
cp machinery-benchmarks/target/benchmarks.jar "$JAR"
MAIN=(io.machinery.benchmarks.outside.OutsideBenchmark run)
if [[ ${1:-} == scale ]]; then
  shift
  MAIN=(io.machinery.benchmarks.outside.ScaleBenchmark)
fi
exec "$JAVA_HOME/bin/java" --enable-native-access=ALL-UNNAMED -cp "$JAR" "${MAIN[@]}" "$@"
