# shellcheck shell=bash
# pubsub: a Google Cloud Pub/Sub test server on 127.0.0.1:${MACHINERY_PUBSUB_PORT:-8085}, found by clients
# through PUBSUB_EMULATOR_HOST (sourced by scripts/services.sh; see services.d/README.md).
#
# It is pstest, the Pub/Sub fake of Go's client library, wrapped by scripts/pstest (a short program that also
# answers a waiting Pull as soon as a message arrives, where the bare fake waits 500 ms) and
# built with the Go toolchain the interop tests use (`go` on PATH, else /usr/local/go/bin/go; the module comes
# from the Go module proxy). The binary is cached under ${MACHINERY_CACHE_DIR:-~/.cache/machinery}/pstest and
# rebuilt only when scripts/pstest changes. Without Go, Google's own emulator is used where the Cloud SDK has
# it (not present on the machine this was written on, so that path is untested).

PUBSUB_PORT=${MACHINERY_PUBSUB_PORT:-8085}
PUBSUB_SRC=$(dirname "${BASH_SOURCE[0]}")/../pstest
PUBSUB_GCLOUD_EMULATOR=/usr/lib/google-cloud-sdk/platform/pubsub-emulator/bin/cloud-pubsub-emulator

pubsub_go() {
  if command -v go >/dev/null 2>&1; then command -v go; elif [[ -x /usr/local/go/bin/go ]]; then echo /usr/local/go/bin/go; fi
}

# Prints the path of an up-to-date pstest-server binary, building it when its sources changed.
pubsub_binary() {
  local go=$1 cache key bin t0
  cache=${MACHINERY_CACHE_DIR:-${XDG_CACHE_HOME:-$HOME/.cache}/machinery}/pstest
  key=$(cat "$PUBSUB_SRC/go.mod" "$PUBSUB_SRC/go.sum" "$PUBSUB_SRC/main.go" | sha256sum | cut -c1-16)
  bin=$cache/$key/pstest-server   # the file name is the process name stop_pubsub checks
  if [[ ! -x $bin ]]; then
    mkdir -p "$cache/$key"
    t0=$(now)
    log "pubsub: building pstest-server with $go (once per source change)..."
    (cd "$PUBSUB_SRC" && GOFLAGS=-mod=mod "$go" build -o "$bin.tmp.$$" .) >&2 \
      || die "pubsub: go build of scripts/pstest failed (see above)"
    mv -f "$bin.tmp.$$" "$bin"
    log "pubsub: built $bin in $(since "$t0")s"
  fi
  printf '%s' "$bin"
}

# Builds pstest when Go is there (else the Cloud SDK's emulator is used as installed, or start says what is missing).
install_pubsub() {
  local go; go=$(pubsub_go)
  [[ -z $go ]] || pubsub_binary "$go" >/dev/null
}

start_pubsub() {
  local dir=$RUN_DIR/pubsub go bin t0 offset
  if port_open "$PUBSUB_PORT"; then log "pubsub: already answering on $HOST:$PUBSUB_PORT"; return; fi
  t0=$(now)
  mkdir -p "$dir"
  offset=$(log_size "$dir/pubsub.log")
  go=$(pubsub_go)
  if [[ -n $go ]]; then
    bin=$(pubsub_binary "$go")
    # setsid + & : a daemon owning no terminal and no pipe of ours; $! is the server's own PID.
    setsid "$bin" -addr "$HOST:$PUBSUB_PORT" </dev/null >>"$dir/pubsub.log" 2>&1 9>&- &
    echo $! >"$dir/pubsub.pid"
    echo pstest-server >"$dir/comm"
  elif [[ -x $PUBSUB_GCLOUD_EMULATOR ]]; then
    setsid "$PUBSUB_GCLOUD_EMULATOR" --host="$HOST" --port="$PUBSUB_PORT" </dev/null >>"$dir/pubsub.log" 2>&1 9>&- &
    echo $! >"$dir/pubsub.pid"
    echo java >"$dir/comm"
  else
    die "pubsub: needs Go (to build scripts/pstest; https://go.dev/dl, or /usr/local/go) or the Cloud SDK's Pub/Sub emulator at $PUBSUB_GCLOUD_EMULATOR"
  fi
  wait_port "$PUBSUB_PORT" "$(timeout_for 30)" "pubsub" "$dir/pubsub.log" "$offset"
  log "pubsub: up on $HOST:$PUBSUB_PORT ($(< "$dir/comm")) in $(since "$t0")s"
}

pubsub_comm() { cat "$RUN_DIR/pubsub/comm" 2>/dev/null || echo pstest-server; }

stop_pubsub() {
  if stop_pid "$RUN_DIR/pubsub/pubsub.pid" "$(pubsub_comm)" pubsub; then
    wait_port_closed "$PUBSUB_PORT" 10
    log "pubsub: stopped"
  elif port_open "$PUBSUB_PORT"; then
    log "pubsub: $HOST:$PUBSUB_PORT answers but was not started by this script; left running"
  else
    log "pubsub: not running"
  fi
}

status_pubsub() { status_line pubsub "$PUBSUB_PORT" "$RUN_DIR/pubsub/pubsub.pid" "$(pubsub_comm)"; }

# Only while it answers: a PUBSUB_EMULATOR_HOST pointing nowhere would make tests fail instead of skip.
env_pubsub() {
  port_open "$PUBSUB_PORT" || return 0
  env_line PUBSUB_EMULATOR_HOST "$HOST:$PUBSUB_PORT"
  env_line MACHINERY_PUBSUB_PORT "$PUBSUB_PORT"
  # the pstest binary, for a test that starts and stops a server of its own (GcpPubSubServerBackIT)
  local go; go=$(pubsub_go)
  [[ -z $go ]] || env_line MACHINERY_PUBSUB_SERVER "$(pubsub_binary "$go")"
}

foreign_pubsub() { port_open "$PUBSUB_PORT" && [[ -z $(live_pid "$RUN_DIR/pubsub/pubsub.pid" "$(pubsub_comm)") ]]; }
