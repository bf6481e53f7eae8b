#!/usr/bin/env bash
# Starts, stops and restarts the real servers the integration tests talk to.
#
#   scripts/services.sh start [NAME...]   start NAMEs (default: all); a server whose port answers is left alone
#   scripts/services.sh stop [NAME...]    stop NAMEs (default: all) by their PID files
#   scripts/services.sh restart NAME...   stop, then start again on the same port with the same data dir
#   scripts/services.sh status            one line per server
#   scripts/services.sh env               write $RUN_DIR/env and print it (eval-able export lines)
#   scripts/services.sh clean             stop all, then delete $RUN_DIR (RabbitMQ's durable queues too)
#
# MACHINERY_REDIS_PORT, MACHINERY_REDIS_CLUSTER_PORTS ("7000 7001 7002") and MACHINERY_MEMCACHED_PORT move
# those servers (with a RUN_DIR of their own) for a private set beside the shared one.
# NAMEs: redis (6379), redis-cluster (7000-7002, 3 masters), rabbitmq (5672, management 15672),
# memcached (11211). Everything binds to 127.0.0.1 only and runs as a daemon that owns no terminal
# and no pipe of the caller, so tests may call `$MACHINERY_SERVICES_SCRIPT restart redis` mid-run.
#
# RUN_DIR (default /tmp/machinery-services; MACHINERY_RUN_DIR from the env file is honoured too) holds
# PID files, logs, data dirs and the env file. `start` first runs scripts/install.sh for the NAMEs (Debian
# packages and the plug-ins' downloads; a no-op when all is there).
# MACHINERY_START_TIMEOUT (seconds) overrides every start timeout.
set -euo pipefail

# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"
# shellcheck source=install.sh
. "$SCRIPTS_DIR/install.sh"
# Plug-ins (scripts/services.d/NAME.sh, loaded by lib/common.sh) define start_NAME, stop_NAME, status_NAME (one
# status line), env_NAME (env_line calls), optionally install_NAME (what scripts/install.sh runs) and
# foreign_NAME (true when its port answers but this script did not start it). They use the helpers below
# (launch, wait_port, live_pid, stop_pid, ...) and start after the built-in servers.

# Ports can be moved (with a RUN_DIR of its own) to run a second, private set beside the shared one.
REDIS_PORT=${MACHINERY_REDIS_PORT:-6379}
read -r -a CLUSTER_PORTS <<<"${MACHINERY_REDIS_CLUSTER_PORTS:-7000 7001 7002}"
AMQP_PORT=5672
RABBITMQ_MGMT_PORT=15672
EPMD_PORT=4369
MEMCACHED_PORT=${MACHINERY_MEMCACHED_PORT:-11211}
RABBITMQ_LIB=/usr/lib/rabbitmq/bin   # the plain scripts; /usr/sbin's wrappers su to user rabbitmq



timeout_for() { printf '%s' "${MACHINERY_START_TIMEOUT:-$1}"; }

# ---------------------------------------------------------------------------------------------
# Process and port helpers

port_open() { (exec 3<>"/dev/tcp/$HOST/$1") 2>/dev/null; }

log_size() { stat -c %s "$1" 2>/dev/null || echo 0; }

# wait_port PORT TIMEOUT_S WHAT [LOGFILE [OFFSET]]: polls TCP every 0.1 s (deadlines in microseconds).
# On timeout it shows what LOGFILE gained after byte OFFSET (the logs are appended across runs) and fails.
wait_port() {
  local port=$1 timeout=$2 what=$3 logfile=${4:-} offset=${5:-0} deadline
  deadline=$(( ${EPOCHREALTIME/[.,]/} + timeout * 1000000 ))
  until port_open "$port"; do
    if (( ${EPOCHREALTIME/[.,]/} >= deadline )); then
      log "$what did not answer on $HOST:$port within ${timeout}s."
      if [[ -n $logfile && -r $logfile ]]; then
        log "last lines this start wrote to $logfile:"
        tail -c +"$(( offset + 1 ))" "$logfile" | tail -n 40 >&2 || true
      fi
      die "$what failed to start (see above; logs are in $RUN_DIR)."
    fi
    sleep 0.1
  done
}

wait_port_closed() {
  local port=$1 timeout=$2 deadline
  deadline=$(( ${EPOCHREALTIME/[.,]/} + timeout * 1000000 ))
  while port_open "$port"; do
    (( ${EPOCHREALTIME/[.,]/} < deadline )) || die "port $port still answers ${timeout}s after stopping its server."
    sleep 0.1
  done
}

# Prints the PID in FILE if that process is alive and its command name is COMM; else nothing.
# The name check keeps a stale PID file from ever pointing a signal at a recycled PID.
live_pid() {
  local file=$1 comm=$2 pid
  [[ -r $file ]] || return 0
  pid=$(tr -dc '0-9' < "$file")
  [[ -n $pid && -r /proc/$pid/comm && $(< "/proc/$pid/comm") == "$comm" ]] && printf '%s' "$pid"
  return 0
}

# term_pid FILE COMM: sends SIGTERM to the live PID in FILE and prints it; false when none is alive.
term_pid() {
  local file=$1 comm=$2 pid
  pid=$(live_pid "$file" "$comm")
  if [[ -z $pid ]]; then
    rm -f "$file"
    return 1
  fi
  kill -TERM "$pid" 2>/dev/null || true
  printf '%s' "$pid"
}

# await_exit PID WHAT TIMEOUT_S: waits for PID to exit; SIGKILL after the timeout.
await_exit() {
  local pid=$1 what=$2 timeout=$3 deadline
  deadline=$(( ${EPOCHREALTIME/[.,]/} + timeout * 1000000 ))
  while kill -0 "$pid" 2>/dev/null; do
    if (( ${EPOCHREALTIME/[.,]/} >= deadline )); then
      log "$what (pid $pid) ignored SIGTERM for ${timeout}s; sending SIGKILL."
      kill -KILL "$pid" 2>/dev/null || true
      sleep 0.2
      return
    fi
    sleep 0.05
  done
}

# stop_pid FILE COMM WHAT [TIMEOUT_S]: SIGTERM, wait for the exit; false when nothing was running.
stop_pid() {
  local file=$1 comm=$2 what=$3 timeout=${4:-15} pid
  pid=$(term_pid "$file" "$comm") || return 1
  await_exit "$pid" "$what" "$timeout"
  rm -f "$file"
}

# Runs a daemon's launcher detached from our stdio and lock, so callers that read our output
# (make, a test's ProcessBuilder) see EOF when this script exits, not when the server does.
launch() { "$@" </dev/null >>"$RUN_DIR/launch.log" 2>&1 9>&-; }

# ---------------------------------------------------------------------------------------------
# redis (standalone). Persistence as production would have it: an append-only file fsynced every second
# (Redis also writes it out on SIGTERM), so `restart redis` keeps the data and restart tests prove durability.
# An empty data directory starts as fast as no persistence did.

REDIS_PERSISTENCE=(--appendonly yes --appendfsync everysec --save "")

redis_pidfile() { printf '%s/redis/redis-%s.pid' "$RUN_DIR" "$1"; }

start_redis() {
  local dir=$RUN_DIR/redis t0 offset
  if port_open "$REDIS_PORT"; then log "redis: already answering on $HOST:$REDIS_PORT"; return; fi
  t0=$(now)
  mkdir -p "$dir"
  offset=$(log_size "$dir/redis-$REDIS_PORT.log")
  launch redis-server --port "$REDIS_PORT" --bind "$HOST" --daemonize yes --dir "$dir" \
    --pidfile "$(redis_pidfile "$REDIS_PORT")" --logfile "$dir/redis-$REDIS_PORT.log" \
    "${REDIS_PERSISTENCE[@]}" \
    || die "redis-server did not launch; see $dir/redis-$REDIS_PORT.log and $RUN_DIR/launch.log"
  wait_port "$REDIS_PORT" "$(timeout_for 15)" redis "$dir/redis-$REDIS_PORT.log" "$offset"
  log "redis: up on $HOST:$REDIS_PORT in $(since "$t0")s"
}

stop_redis() {
  if stop_pid "$(redis_pidfile "$REDIS_PORT")" redis-server redis; then
    wait_port_closed "$REDIS_PORT" 10
    log "redis: stopped"
  elif port_open "$REDIS_PORT"; then
    log "redis: $HOST:$REDIS_PORT answers but was not started by this script (no live PID file); left running"
  else
    log "redis: not running"
  fi
}

# ---------------------------------------------------------------------------------------------
# redis-cluster (3 masters, no replicas, the same persistence as redis; bus ports 17000-17002)

cluster_info_field() { redis-cli -h "$HOST" -p "$1" cluster info 2>/dev/null | tr -d '\r' | sed -n "s/^$2://p"; }

cluster_ok() {
  local p
  for p in "${CLUSTER_PORTS[@]}"; do
    [[ $(cluster_info_field "$p" cluster_state) == ok ]] || return 1
  done
}

# wait_cluster_ok TIMEOUT_S: true when every node reports cluster_state:ok in time.
wait_cluster_ok() {
  local deadline=$(( ${EPOCHREALTIME/[.,]/} + $1 * 1000000 ))
  until cluster_ok; do
    (( ${EPOCHREALTIME/[.,]/} < deadline )) || return 1
    sleep 0.2
  done
}

start_redis_cluster() {
  local t0 p dir all_slots=true
  t0=$(now)
  for p in "${CLUSTER_PORTS[@]}"; do
    port_open "$p" && continue
    dir=$RUN_DIR/redis-cluster/$p
    mkdir -p "$dir"
    # nodes.conf is kept, so a node restarted alone rejoins the cluster it was part of.
    launch redis-server --port "$p" --bind "$HOST" --daemonize yes --dir "$dir" \
      --cluster-enabled yes --cluster-config-file nodes.conf --cluster-node-timeout 5000 \
      --pidfile "$(redis_pidfile "$p")" --logfile "$dir/redis-$p.log" \
      "${REDIS_PERSISTENCE[@]}" \
      || die "redis-server (cluster node $p) did not launch; see $dir/redis-$p.log"
  done
  for p in "${CLUSTER_PORTS[@]}"; do
    wait_port "$p" "$(timeout_for 15)" "redis-cluster node $p" "$RUN_DIR/redis-cluster/$p/redis-$p.log"
  done
  if cluster_ok; then
    log "redis-cluster: already ok on ports ${CLUSTER_PORTS[*]}"
    return
  fi
  for p in "${CLUSTER_PORTS[@]}"; do
    [[ $(cluster_info_field "$p" cluster_slots_assigned) == 16384 ]] || all_slots=false
  done
  # Nodes that came back with their nodes.conf only need a moment to agree again.
  if ! { $all_slots && wait_cluster_ok 10; }; then
    # Fresh nodes, or a half-built cluster: wipe the state and build it again.
    for p in "${CLUSTER_PORTS[@]}"; do
      redis-cli -h "$HOST" -p "$p" flushall >/dev/null 2>&1 || true
      redis-cli -h "$HOST" -p "$p" cluster reset hard >/dev/null \
        || die "redis-cluster: CLUSTER RESET on node $p failed"
    done
    local nodes=()
    for p in "${CLUSTER_PORTS[@]}"; do nodes+=("$HOST:$p"); done
    redis-cli --cluster create "${nodes[@]}" --cluster-replicas 0 --cluster-yes \
      >"$RUN_DIR/redis-cluster/create.log" 2>&1 \
      || { cat "$RUN_DIR/redis-cluster/create.log" >&2; die "redis-cluster: --cluster create failed"; }
    wait_cluster_ok "$(timeout_for 20)" \
      || die "redis-cluster: cluster_state did not become ok; see $RUN_DIR/redis-cluster/"
  fi
  log "redis-cluster: ok on ports ${CLUSTER_PORTS[*]} in $(since "$t0")s"
}

stop_redis_cluster() {
  local p pid pids=() stopped=()
  for p in "${CLUSTER_PORTS[@]}"; do
    if pid=$(term_pid "$(redis_pidfile "$p")" redis-server); then
      pids+=("$pid") stopped+=("$p")
    elif port_open "$p"; then
      log "redis-cluster: $HOST:$p answers but was not started by this script; left running"
    fi
  done
  for pid in "${pids[@]}"; do await_exit "$pid" "redis-cluster node" 15; done
  for p in "${stopped[@]}"; do
    rm -f "$(redis_pidfile "$p")"
    wait_port_closed "$p" 10
  done
  if (( ${#stopped[@]} )); then log "redis-cluster: stopped ${stopped[*]}"; else log "redis-cluster: not running"; fi
}

# ---------------------------------------------------------------------------------------------
# rabbitmq: a self-contained node (own mnesia/log/cookie under RUN_DIR, node rabbit@localhost).
# The mnesia dir survives stop/restart, so durable queues and their persistent messages come back.

RMQ_DIR() { printf '%s/rabbitmq' "$RUN_DIR"; }

# Runs "$@" with the environment every rabbitmq script needs to find this node.
with_rabbitmq_env() {
  local d; d=$(RMQ_DIR)
  HOME=$d/home \
  RABBITMQ_NODENAME=rabbit@localhost \
  RABBITMQ_NODE_IP_ADDRESS=$HOST \
  RABBITMQ_NODE_PORT=$AMQP_PORT \
  ERL_EPMD_ADDRESS=$HOST \
  ERL_EPMD_PORT=$EPMD_PORT \
  RABBITMQ_CONF_ENV_FILE=$d/rabbitmq-env.conf \
  RABBITMQ_CONFIG_FILE=$d/rabbitmq \
  RABBITMQ_ADVANCED_CONFIG_FILE=$d/advanced.config \
  RABBITMQ_ENABLED_PLUGINS_FILE=$d/enabled_plugins \
  RABBITMQ_MNESIA_BASE=$d/mnesia \
  RABBITMQ_LOG_BASE=$d/log \
  RABBITMQ_PID_FILE=$d/rabbit.pid \
  ERL_CRASH_DUMP=$d/log/erl_crash.dump \
  RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
  RABBITMQ_CTL_ERL_ARGS="-kernel inet_dist_use_interface {127,0,0,1}" \
    "$@"
}

start_rabbitmq_detached() {
  local d; d=$(RMQ_DIR)
  if port_open "$AMQP_PORT"; then
    log "rabbitmq: already answering on $HOST:$AMQP_PORT"
    return 1
  fi
  mkdir -p "$d/home" "$d/mnesia" "$d/log"
  : >"$d/rabbitmq-env.conf"   # keep /etc/rabbitmq/rabbitmq-env.conf out of it
  echo '[rabbitmq_management].' >"$d/enabled_plugins"
  cat >"$d/rabbitmq.conf" <<EOF
listeners.tcp.default = $HOST:$AMQP_PORT
management.tcp.ip = $HOST
management.tcp.port = $RABBITMQ_MGMT_PORT
EOF
  RMQ_LOG_OFFSET=$(log_size "$d/log/rabbit@localhost.log")
  RMQ_T0=$(now)
  local booting; booting=$(live_pid "$d/rabbit.pid" beam.smp)
  if [[ -n $booting ]]; then
    # An earlier start that timed out, still booting: wait for it instead of starting a second node.
    log "rabbitmq: node pid $booting is alive but not answering yet; waiting for it"
    return 0
  fi
  rm -f "$d/rabbit.pid"
  launch with_rabbitmq_env "$RABBITMQ_LIB/rabbitmq-server" -detached \
    || die "rabbitmq-server did not launch; see $RUN_DIR/launch.log"
}

wait_rabbitmq() {
  local d; d=$(RMQ_DIR)
  local logfile=$d/log/rabbit@localhost.log t
  t=$(timeout_for 60)
  # Poll TCP: `rabbitmqctl await_startup` exits 69 at once while the node is not yet in epmd.
  wait_port "$AMQP_PORT" "$t" "rabbitmq (AMQP)" "$logfile" "$RMQ_LOG_OFFSET"
  wait_port "$RABBITMQ_MGMT_PORT" "$t" "rabbitmq (management)" "$logfile" "$RMQ_LOG_OFFSET"
  wait_rabbitmq_management_healthy 30 || die "rabbitmq: the management API answers HTTP $(rabbitmq_management_status) instead of 200"
  log "rabbitmq: up on $HOST:$AMQP_PORT, management on $HOST:$RABBITMQ_MGMT_PORT in $(since "$RMQ_T0")s"
}

# The HTTP status of the management API (overview, then queue list): 200 when healthy, 000 when silent.
rabbitmq_management_status() {
  command -v curl >/dev/null 2>&1 || { echo 200; return; }
  local overview queues
  overview=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -u guest:guest "http://$HOST:$RABBITMQ_MGMT_PORT/api/overview" || true)
  queues=$(curl -s -o /dev/null -m 5 -w '%{http_code}' -u guest:guest "http://$HOST:$RABBITMQ_MGMT_PORT/api/queues" || true)
  [[ $overview == 200 ]] && echo "$queues" || echo "$overview"
}

# RabbitMQ 3.10's management plugin can be left answering 500 ({badkey,rabbit@localhost} in its stats) after
# a restart under load; tests read queue properties through it, so a node in that state is not "up".
wait_rabbitmq_management_healthy() {
  local deadline=$(( $(date +%s) + $1 ))
  while (( $(date +%s) < deadline )); do
    [[ $(rabbitmq_management_status) == 200 ]] && return 0
    sleep 0.5
  done
  return 1
}

# A node this script started that is up but whose management API is unhealthy is restarted once.
heal_rabbitmq() {
  local d; d=$(RMQ_DIR)
  [[ -n $(live_pid "$d/rabbit.pid" beam.smp) ]] || return 0
  wait_rabbitmq_management_healthy 10 && return 0
  log "rabbitmq: management API answers HTTP $(rabbitmq_management_status); restarting the node"
  stop_rabbitmq keep-epmd
  start_rabbitmq_detached || true
  wait_rabbitmq
}

# stop_rabbitmq [keep-epmd]
stop_rabbitmq() {
  local d; d=$(RMQ_DIR)
  local t0; t0=$(now)
  if stop_pid "$d/rabbit.pid" beam.smp rabbitmq 30; then
    wait_port_closed "$AMQP_PORT" 10
    log "rabbitmq: stopped in $(since "$t0")s"
  elif port_open "$AMQP_PORT"; then
    log "rabbitmq: $HOST:$AMQP_PORT answers but was not started by this script (no live PID file); left running"
    return
  else
    log "rabbitmq: not running"
  fi
  [[ ${1:-} == keep-epmd ]] || stop_epmd
}

# epmd outlives the node that started it. Stop it only when no Erlang node is registered any more.
stop_epmd() {
  port_open "$EPMD_PORT" || return 0
  local names pid
  names=$(ERL_EPMD_ADDRESS=$HOST ERL_EPMD_PORT=$EPMD_PORT epmd -names 2>/dev/null | grep -c '^name ' || true)
  if (( names > 0 )); then
    log "epmd: other Erlang nodes are registered; left running"
    return
  fi
  pid=$(ss -Hltnp "sport = :$EPMD_PORT" 2>/dev/null | sed -n 's/.*"epmd",pid=\([0-9]*\).*/\1/p' | head -n1)
  if [[ -n $pid && $(< "/proc/$pid/comm") == epmd ]]; then
    kill -TERM "$pid" 2>/dev/null || true
    wait_port_closed "$EPMD_PORT" 5
    log "epmd: stopped (pid $pid)"
  else
    log "epmd: could not find its PID on port $EPMD_PORT (is 'ss' installed?); left running"
  fi
}

# ---------------------------------------------------------------------------------------------
# memcached

start_memcached() {
  local dir=$RUN_DIR/memcached t0 offset user=()
  if port_open "$MEMCACHED_PORT"; then log "memcached: already answering on $HOST:$MEMCACHED_PORT"; return; fi
  t0=$(now)
  mkdir -p "$dir"
  offset=$(log_size "$RUN_DIR/launch.log")
  (( EUID != 0 )) || user=(-u root)    # memcached refuses to run as root without -u
  launch memcached -d -l "$HOST" -p "$MEMCACHED_PORT" -U 0 -m 64 "${user[@]}" -P "$dir/memcached.pid" \
    || die "memcached did not launch; see $RUN_DIR/launch.log"
  wait_port "$MEMCACHED_PORT" "$(timeout_for 15)" memcached "$RUN_DIR/launch.log" "$offset"
  log "memcached: up on $HOST:$MEMCACHED_PORT in $(since "$t0")s"
}

stop_memcached() {
  if stop_pid "$RUN_DIR/memcached/memcached.pid" memcached memcached; then
    wait_port_closed "$MEMCACHED_PORT" 10
    log "memcached: stopped"
  elif port_open "$MEMCACHED_PORT"; then
    log "memcached: $HOST:$MEMCACHED_PORT answers but was not started by this script; left running"
  else
    log "memcached: not running"
  fi
}

# ---------------------------------------------------------------------------------------------
# env, status

# Plain when the value is shell-safe (every value here normally is), single-quoted otherwise.
env_line() {
  local value=$2
  if [[ ! $value =~ ^[A-Za-z0-9_./:@,+=%-]*$ ]]; then
    value="'${value//\'/\'\\\'\'}'"
  fi
  printf 'export %s=%s\n' "$1" "$value"
}

write_env() {
  local tmp=$RUN_DIR/env.tmp.$$
  {
    echo "# Written by $SCRIPT_PATH; source it: . $RUN_DIR/env"
    env_line REDIS_URL "redis://$HOST:$REDIS_PORT"
    env_line REDIS_CLUSTER_URL "redis://$HOST:${CLUSTER_PORTS[0]},$HOST:${CLUSTER_PORTS[1]},$HOST:${CLUSTER_PORTS[2]}"
    env_line AMQP_URL "amqp://guest:guest@$HOST:$AMQP_PORT/"
    env_line RABBITMQ_MANAGEMENT_URL "http://$HOST:$RABBITMQ_MGMT_PORT"
    env_line MEMCACHE_ADDR "$HOST:$MEMCACHED_PORT"
    env_line MACHINERY_SERVICES_SCRIPT "$SCRIPT_PATH"
    env_line MACHINERY_RUN_DIR "$RUN_DIR"
    env_line MACHINERY_REDIS_PORT "$REDIS_PORT"
    env_line MACHINERY_REDIS_CLUSTER_PORTS "${CLUSTER_PORTS[*]}"
    env_line MACHINERY_MEMCACHED_PORT "$MEMCACHED_PORT"
    local plugin
    for plugin in "${PLUGIN_SERVICES[@]}"; do "env_$plugin"; done
  } >"$tmp"
  mv -f "$tmp" "$RUN_DIR/env"
}

status_line() {
  local name=$1 ports=$2 pidfile=$3 comm=$4 port state pid
  state=up
  for port in $ports; do port_open "$port" || state=down; done
  pid=$(live_pid "$pidfile" "$comm")
  if [[ $state == up && -z $pid ]]; then state="up (not started by this script)"; fi
  if [[ $state == down && -n $pid ]]; then state="down (pid $pid alive: starting or stuck?)"; fi
  printf '%-14s %-22s %-6s %s\n' "$name" "${ports// /,}" "${pid:--}" "$state"
}

status() {
  printf '%-14s %-22s %-6s %s\n' SERVICE PORTS PID STATE
  status_line redis "$REDIS_PORT" "$(redis_pidfile "$REDIS_PORT")" redis-server
  local p
  for p in "${CLUSTER_PORTS[@]}"; do
    status_line "redis-cluster" "$p" "$(redis_pidfile "$p")" redis-server
  done
  if cluster_ok 2>/dev/null; then
    printf '%-14s %s\n' "" "cluster_state:ok"
  fi
  status_line rabbitmq "$AMQP_PORT $RABBITMQ_MGMT_PORT" "$(RMQ_DIR)/rabbit.pid" beam.smp
  status_line memcached "$MEMCACHED_PORT" "$RUN_DIR/memcached/memcached.pid" memcached
  local plugin
  for plugin in "${PLUGIN_SERVICES[@]}"; do "status_$plugin"; done
  printf 'run dir: %s\n' "$RUN_DIR"
}

# ---------------------------------------------------------------------------------------------
# main

start_services() {
  local names=("$@") n t0 rmq_waiting=false
  t0=$(now)
  install_services "${names[@]}"
  # RabbitMQ boots in ~7 s: launch it first and start the quick ones while it boots.
  for n in "${names[@]}"; do
    if [[ $n == rabbitmq ]] && start_rabbitmq_detached; then rmq_waiting=true; fi
  done
  for n in "${names[@]}"; do
    case $n in
      redis) start_redis ;;
      redis-cluster) start_redis_cluster ;;
      memcached) start_memcached ;;
      *) is_plugin "$n" && "start_$n" ;;
    esac
  done
  if $rmq_waiting; then wait_rabbitmq; fi
  for n in "${names[@]}"; do
    if [[ $n == rabbitmq ]] && ! $rmq_waiting; then heal_rabbitmq; fi
  done
  write_env
  log "ready in $(since "$t0")s; env: . $RUN_DIR/env"
}

stop_one() {
  case $1 in
    redis) stop_redis ;;
    redis-cluster) stop_redis_cluster ;;
    rabbitmq) stop_rabbitmq ;;
    memcached) stop_memcached ;;
    *) is_plugin "$1" && "stop_$1" ;;
  esac
}

# Stops several servers in parallel: RabbitMQ's graceful stop alone takes ~8 s.
stop_services() {
  if (( $# == 1 )); then stop_one "$1"; return; fi
  local n pid pids=() failed=0
  for n in "$@"; do
    stop_one "$n" &
    pids+=("$!")
  done
  for pid in "${pids[@]}"; do wait "$pid" || failed=1; done
  (( failed == 0 )) || die "some servers did not stop cleanly (see above)"
}

# True when NAME answers on its port but no live PID file of ours backs it (say, a container or a
# system service): restarting it is then impossible, and pretending would fake a fault test.
foreign() {
  local p
  case $1 in
    redis) port_open "$REDIS_PORT" && [[ -z $(live_pid "$(redis_pidfile "$REDIS_PORT")" redis-server) ]] ;;
    redis-cluster)
      for p in "${CLUSTER_PORTS[@]}"; do
        port_open "$p" && [[ -z $(live_pid "$(redis_pidfile "$p")" redis-server) ]] && return 0
      done
      return 1 ;;
    rabbitmq) port_open "$AMQP_PORT" && [[ -z $(live_pid "$(RMQ_DIR)/rabbit.pid" beam.smp) ]] ;;
    memcached) port_open "$MEMCACHED_PORT" && [[ -z $(live_pid "$RUN_DIR/memcached/memcached.pid" memcached) ]] ;;
    *) is_plugin "$1" && declare -F "foreign_$1" >/dev/null && "foreign_$1" ;;
  esac
}

restart_services() {
  local n t0
  for n in "$@"; do
    ! foreign "$n" || die "cannot restart $n: its port answers but it was not started by this script (RUN_DIR=$RUN_DIR)"
  done
  for n in "$@"; do
    t0=$(now)
    case $n in
      rabbitmq) stop_rabbitmq keep-epmd ;;
      *) stop_services "$n" ;;
    esac
    start_services "$n"
    log "$n: restarted in $(since "$t0")s"
  done
}

usage() {
  sed -n '2,/^set -euo/p' "$SCRIPT_PATH" | sed '$d' | sed 's/^# \{0,1\}//' >&2
  exit 2
}

main() {
  local cmd=${1:-}
  [[ -n $cmd ]] || usage
  shift
  mkdir -p "$RUN_DIR"
  # One invocation at a time (parallel test forks may restart servers); daemons never inherit fd 9.
  exec 9>"$RUN_DIR/.lock"
  flock 9
  case $cmd in
    start)
      (( $# )) || set -- "${ALL_SERVICES[@]}"
      check_names "$@"
      start_services "$@" ;;
    stop)
      (( $# )) || set -- "${ALL_SERVICES[@]}"
      check_names "$@"
      stop_services "$@" ;;
    restart)
      (( $# )) || die "restart needs a service name (${ALL_SERVICES[*]})"
      check_names "$@"
      restart_services "$@" ;;
    status) status ;;
    env)
      write_env
      cat "$RUN_DIR/env" ;;
    clean)
      stop_services "${ALL_SERVICES[@]}"
      rm -rf "$RUN_DIR"
      log "removed $RUN_DIR" ;;
    -h | --help | help) usage ;;
    *) log "unknown command '$cmd'"; usage ;;
  esac
}

main "$@"
