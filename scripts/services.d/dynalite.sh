# shellcheck shell=bash
# dynalite 4.0.0 (Apache-2.0, npm), a DynamoDB-compatible server on LevelDB, in memory on
# 127.0.0.1:$DYNALITE_PORT (default 4567). Installed on first use with `npm install` into $DYNALITE_HOME
# (default ~/.cache/machinery/dynalite-4.0.0); needs Node.js and npm (the Debian packages nodejs and npm are
# installed when missing). It has no UpdateTimeToLive and never expires items; Machinery only writes the TTL
# attribute. Exports DYNAMODB_ENDPOINT.
DYNALITE_PORT=${MACHINERY_DYNALITE_PORT:-4567}
DYNALITE_VERSION=4.0.0
DYNALITE_HOME=${DYNALITE_HOME:-${XDG_CACHE_HOME:-$HOME/.cache}/machinery/dynalite-$DYNALITE_VERSION}

dynalite_dir() { printf '%s/dynalite' "$RUN_DIR"; }
dynalite_bin() { printf '%s/node_modules/dynalite/cli.js' "$DYNALITE_HOME"; }

install_dynalite() {
  [[ -r $(dynalite_bin) ]] && return 0
  command -v npm >/dev/null && command -v node >/dev/null || apt_install nodejs npm
  local t0; t0=$(now)
  mkdir -p "$DYNALITE_HOME"
  log "dynalite: npm install dynalite@$DYNALITE_VERSION into $DYNALITE_HOME (first use)..."
  (cd "$DYNALITE_HOME" && npm install --no-audit --no-fund --loglevel=error "dynalite@$DYNALITE_VERSION" </dev/null >&2) \
    || die "dynalite: npm install dynalite@$DYNALITE_VERSION failed"
  [[ -r $(dynalite_bin) ]] || die "dynalite: npm installed no $(dynalite_bin)"
  log "dynalite: installed in $(since "$t0")s"
}

start_dynalite() {
  local dir t0 offset
  dir=$(dynalite_dir)
  if port_open "$DYNALITE_PORT"; then log "dynalite: already answering on $HOST:$DYNALITE_PORT"; return; fi
  t0=$(now)
  mkdir -p "$dir"
  offset=$(log_size "$dir/dynalite.log")
  launch setsid -f bash -c 'echo $$ >"$1"; exec node "$2" --host "$3" --port "$4" --createTableMs 0 --deleteTableMs 0 --updateTableMs 0 >>"$5" 2>&1' \
    _ "$dir/dynalite.pid" "$(dynalite_bin)" "$HOST" "$DYNALITE_PORT" "$dir/dynalite.log"
  wait_port "$DYNALITE_PORT" "$(timeout_for 30)" dynalite "$dir/dynalite.log" "$offset"
  log "dynalite: up on $HOST:$DYNALITE_PORT in $(since "$t0")s"
}

stop_dynalite() {
  if stop_pid "$(dynalite_dir)/dynalite.pid" node dynalite; then
    wait_port_closed "$DYNALITE_PORT" 10
    log "dynalite: stopped"
  elif port_open "$DYNALITE_PORT"; then
    log "dynalite: $HOST:$DYNALITE_PORT answers but was not started by this script (no live PID file); left running"
  fi
}

status_dynalite() { status_line dynalite "$DYNALITE_PORT" "$(dynalite_dir)/dynalite.pid" node; }

foreign_dynalite() { port_open "$DYNALITE_PORT" && [[ -z $(live_pid "$(dynalite_dir)/dynalite.pid" node) ]]; }

env_dynalite() {
  env_line DYNAMODB_ENDPOINT "http://$HOST:$DYNALITE_PORT"
  env_line MACHINERY_DYNALITE_PORT "$DYNALITE_PORT"
}
