# shellcheck shell=bash
# ElasticMQ 1.7.1 (Apache-2.0), an SQS-compatible server, standalone on 127.0.0.1:$ELASTICMQ_PORT (default
# 9324). Installed on first use: the Maven wrapper resolves elasticmq-server_2.13's classpath from Maven Central
# (scripts/services.d/elasticmq/pom.xml) into $ELASTICMQ_HOME (default ~/.cache/machinery/elasticmq-1.7.1), once.
# Queues live in memory; the tests create the ones they use. Exports SQS_ENDPOINT (the SDK endpoint) and SQS_URL
# (Go Machinery's broker URL: endpoint + account path, to which a queue name is appended).
ELASTICMQ_PORT=${MACHINERY_ELASTICMQ_PORT:-9324}
ELASTICMQ_VERSION=1.7.1
ELASTICMQ_HOME=${ELASTICMQ_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/machinery/elasticmq-$ELASTICMQ_VERSION}

elasticmq_dir() { printf '%s/elasticmq' "$RUN_DIR"; }

elasticmq_java() {
  local jdk
  jdk=${JAVA_HOME:-$("$(dirname "$SCRIPT_PATH")/find-jdk.sh" 2>/dev/null || true)}
  [[ -n $jdk && -x $jdk/bin/java ]] || die "elasticmq: no JDK found (set JAVA_HOME; scripts/find-jdk.sh says what to install)"
  printf '%s/bin/java' "$jdk"
}

# Resolves the server's classpath once; cp.txt only appears when every jar of it is in the local repository.
# It names jars in the Maven repository it was resolved into: when one is gone (that repository was deleted or
# another MAVEN_ARGS repository is used now), it is resolved again rather than failing with ClassNotFound.
elasticmq_classpath_present() {
  local jar
  [[ -s $ELASTICMQ_HOME/cp.txt ]] || return 1
  while IFS= read -r -d : jar || [[ -n $jar ]]; do
    [[ -f $jar ]] || { log "elasticmq: $jar is gone; resolving the classpath again"; return 1; }
  done <"$ELASTICMQ_HOME/cp.txt"
}

install_elasticmq() {
  elasticmq_classpath_present && return 0
  local root t0 tmp
  root=$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)
  t0=$(now)
  mkdir -p "$ELASTICMQ_HOME"
  tmp=$ELASTICMQ_HOME/cp.txt.tmp.$$
  log "elasticmq: resolving elasticmq-server $ELASTICMQ_VERSION from Maven Central (first use)..."
  JAVA_HOME=$(dirname "$(dirname "$(elasticmq_java)")") "$root/mvnw" -B -q \
    -f "$(dirname "$SCRIPT_PATH")/services.d/elasticmq/pom.xml" \
    dependency:build-classpath -Dmdep.outputFile="$tmp" </dev/null >&2 \
    || die "elasticmq: could not resolve its classpath with the Maven wrapper (network? MAVEN_ARGS?)"
  mv -f "$tmp" "$ELASTICMQ_HOME/cp.txt"
  log "elasticmq: classpath resolved in $(since "$t0")s"
}

start_elasticmq() {
  local dir t0 offset java
  dir=$(elasticmq_dir)
  if port_open "$ELASTICMQ_PORT"; then log "elasticmq: already answering on $HOST:$ELASTICMQ_PORT"; return; fi
  java=$(elasticmq_java)
  t0=$(now)
  mkdir -p "$dir"
  # reference.conf binds 0.0.0.0; node-address makes the queue URLs it returns point at 127.0.0.1.
  cat >"$dir/elasticmq.conf" <<CONF
include classpath("application.conf")
node-address { protocol = http, host = "$HOST", port = $ELASTICMQ_PORT, context-path = "" }
rest-sqs { enabled = true, bind-port = $ELASTICMQ_PORT, bind-hostname = "$HOST", sqs-limits = strict }
rest-stats { enabled = false }
CONF
  offset=$(log_size "$dir/elasticmq.log")
  launch setsid -f bash -c 'echo $$ >"$1"; exec "$2" -Xmx384m -XX:+UseSerialGC -Dconfig.file="$3" -cp "$(cat "$4")" org.elasticmq.server.Main >>"$5" 2>&1' \
    _ "$dir/elasticmq.pid" "$java" "$dir/elasticmq.conf" "$ELASTICMQ_HOME/cp.txt" "$dir/elasticmq.log"
  wait_port "$ELASTICMQ_PORT" "$(timeout_for 60)" elasticmq "$dir/elasticmq.log" "$offset"
  log "elasticmq: up on $HOST:$ELASTICMQ_PORT in $(since "$t0")s"
}

stop_elasticmq() {
  if stop_pid "$(elasticmq_dir)/elasticmq.pid" java elasticmq; then
    wait_port_closed "$ELASTICMQ_PORT" 10
    log "elasticmq: stopped"
  elif port_open "$ELASTICMQ_PORT"; then
    log "elasticmq: $HOST:$ELASTICMQ_PORT answers but was not started by this script (no live PID file); left running"
  fi
}

status_elasticmq() { status_line elasticmq "$ELASTICMQ_PORT" "$(elasticmq_dir)/elasticmq.pid" java; }

foreign_elasticmq() { port_open "$ELASTICMQ_PORT" && [[ -z $(live_pid "$(elasticmq_dir)/elasticmq.pid" java) ]]; }

env_elasticmq() {
  env_line SQS_ENDPOINT "http://$HOST:$ELASTICMQ_PORT"
  env_line SQS_URL "http://$HOST:$ELASTICMQ_PORT/000000000000"
  env_line MACHINERY_ELASTICMQ_PORT "$ELASTICMQ_PORT"
}
