# shellcheck shell=bash
# Plug-in for scripts/services.sh: the test MongoDB, mongo-java-server 1.47.0 (in-memory) on 127.0.0.1.
# No registry here ships a real mongod (see docs/notes); this emulator speaks the wire protocol the Java and Go
# drivers use, but never expires TTL documents. MACHINERY_MONGODB_PORT moves it (default 27017).
# First start: a JDK (scripts/find-jdk.sh) and the Maven wrapper copy its jars into $RUN_DIR/mongodb/lib
# (mongodb/pom.xml); later starts reuse them.

MONGODB_PORT=${MACHINERY_MONGODB_PORT:-27017}
MONGODB_SRC=$(dirname "$SCRIPT_PATH")/services.d/mongodb
MONGODB_ROOT=$(cd "$(dirname "$SCRIPT_PATH")/.." && pwd)

mongodb_dir() { printf '%s/mongodb' "$RUN_DIR"; }

mongodb_java_home() {
  if [[ -n ${JAVA_HOME:-} && -x $JAVA_HOME/bin/javac ]]; then printf '%s' "$JAVA_HOME"; return; fi
  "$MONGODB_ROOT/scripts/find-jdk.sh" || die "mongodb: no JDK >= 21 found (see scripts/find-jdk.sh)"
}

# Copies the server's jars once (again when mongodb/pom.xml changed); idempotent and quick when done.
install_mongodb() {
  local dir lib stamp want t0
  dir=$(mongodb_dir) lib=$(mongodb_dir)/lib stamp=$(mongodb_dir)/lib.stamp
  want=$(sha256sum "$MONGODB_SRC/pom.xml" | cut -d' ' -f1)
  [[ -r $stamp && $(< "$stamp") == "$want" ]] && return 0
  t0=$(now)
  log "mongodb: fetching mongo-java-server jars into $lib"
  rm -rf "$lib" && mkdir -p "$lib"
  JAVA_HOME=$(mongodb_java_home) "$MONGODB_ROOT/mvnw" -B -q -f "$MONGODB_SRC/pom.xml" \
    org.apache.maven.plugins:maven-dependency-plugin:3.9.0:copy-dependencies \
    -DoutputDirectory="$lib" -DincludeScope=runtime >"$dir/install.log" 2>&1 \
    || { cat "$dir/install.log" >&2; die "mongodb: could not fetch the mongo-java-server jars (see above)"; }
  printf '%s' "$want" >"$stamp"
  log "mongodb: jars ready in $(since "$t0")s"
}

start_mongodb() {
  local dir t0 offset java_home
  dir=$(mongodb_dir)
  if port_open "$MONGODB_PORT"; then log "mongodb: already answering on $HOST:$MONGODB_PORT"; return; fi
  t0=$(now)
  mkdir -p "$dir"
  java_home=$(mongodb_java_home)
  offset=$(log_size "$dir/mongodb.log")
  rm -f "$dir/mongodb.pid"
  # A simple command in the background: the forked shell execs setsid, then java, in its own session, stdio to
  # its log and without our lock (fd 9), so it outlives this script and holds nothing of the caller's.
  setsid "$java_home/bin/java" -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1 \
    -Dorg.slf4j.simpleLogger.defaultLogLevel=warn -cp "$dir/lib/*" "$MONGODB_SRC/MongoServerMain.java" \
    "$HOST" "$MONGODB_PORT" "$dir/mongodb.pid" </dev/null >>"$dir/mongodb.log" 2>&1 9>&- &
  wait_port "$MONGODB_PORT" "$(timeout_for 30)" mongodb "$dir/mongodb.log" "$offset"
  log "mongodb: up on $HOST:$MONGODB_PORT in $(since "$t0")s"
}

stop_mongodb() {
  if stop_pid "$(mongodb_dir)/mongodb.pid" java mongodb; then
    wait_port_closed "$MONGODB_PORT" 10
    log "mongodb: stopped"
  elif port_open "$MONGODB_PORT"; then
    log "mongodb: $HOST:$MONGODB_PORT answers but was not started by this script; left running"
  else
    log "mongodb: not running"
  fi
}

status_mongodb() { status_line mongodb "$MONGODB_PORT" "$(mongodb_dir)/mongodb.pid" java; }

env_mongodb() {
  env_line MONGODB_URI "mongodb://$HOST:$MONGODB_PORT"
  env_line MACHINERY_MONGODB_PORT "$MONGODB_PORT"
}

foreign_mongodb() { port_open "$MONGODB_PORT" && [[ -z $(live_pid "$(mongodb_dir)/mongodb.pid" java) ]]; }
