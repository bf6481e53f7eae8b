# shellcheck shell=bash
# PostgreSQL from Debian's packages (postgresql, 15 on bookworm), for machinery-outbox-jdbc's ITs: a cluster of
# our own in $RUN_DIR/postgresql/data on 127.0.0.1:$POSTGRES_PORT (default 5432; MACHINERY_POSTGRES_PORT moves
# it), never the Debian "main" cluster. Installed with apt-get when no /usr/lib/postgresql/*/bin/initdb exists;
# otherwise nothing is installed and a start with an existing data dir takes about a second.
# The cluster is for tests: fsync and synchronous commit are off (a crash may lose it; `clean` deletes it).
# As root, the server runs as the Debian user "postgres" (PostgreSQL refuses root). The superuser machinery
# (password machinery) owns the database machinery. Exports POSTGRES_URL, a JDBC URL with user and password.
POSTGRES_PORT=${MACHINERY_POSTGRES_PORT:-5432}
POSTGRES_USER=machinery
POSTGRES_PASSWORD=machinery
POSTGRES_DB=machinery

postgresql_dir() { printf '%s/postgresql' "$RUN_DIR"; }

# The newest installed server's bin directory, or nothing.
postgresql_bin() {
  local d
  d=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -n 1)
  [[ -n $d && -x $d/initdb && -x $d/pg_ctl ]] && printf '%s' "$d"
  return 0
}

install_postgresql() {
  [[ -n $(postgresql_bin) ]] && return 0
  apt_install postgresql
  [[ -n $(postgresql_bin) ]] || die "postgresql: installed, but no /usr/lib/postgresql/*/bin/initdb"
}

# Runs a PostgreSQL program as the user that owns the cluster: "postgres" when we are root.
as_postgres() {
  if (( EUID == 0 )); then
    id postgres >/dev/null 2>&1 || die "postgresql: running as root, but there is no user 'postgres' to run the server as"
    runuser -u postgres -- "$@"
  else
    "$@"
  fi
}

postgresql_initdb() {
  local dir=$1 bin=$2 pwfile
  [[ -s $dir/data/PG_VERSION ]] && return 0
  log "postgresql: initdb in $dir/data"
  rm -rf "$dir/data"
  pwfile=$dir/pwfile
  printf '%s\n' "$POSTGRES_PASSWORD" >"$pwfile"
  (( EUID != 0 )) || chown -R postgres:postgres "$dir"
  as_postgres "$bin/initdb" -D "$dir/data" -U "$POSTGRES_USER" --pwfile="$pwfile" -E UTF8 --locale=C.UTF-8 \
    --auth-local=trust --auth-host=scram-sha-256 >"$dir/initdb.log" 2>&1 \
    || { cat "$dir/initdb.log" >&2; rm -f "$pwfile"; die "postgresql: initdb failed (see above)"; }
  rm -f "$pwfile"
}

start_postgresql() {
  local dir bin t0 offset
  dir=$(postgresql_dir)
  if port_open "$POSTGRES_PORT"; then log "postgresql: already answering on $HOST:$POSTGRES_PORT"; return; fi
  bin=$(postgresql_bin)
  t0=$(now)
  mkdir -p "$dir"
  (( EUID != 0 )) || chown postgres:postgres "$dir"
  as_postgres test -w "$dir" \
    || die "postgresql: user $(as_postgres id -un) cannot write $dir (a RUN_DIR under a private home?); choose a RUN_DIR it can reach, e.g. under /tmp"
  postgresql_initdb "$dir" "$bin"
  offset=$(log_size "$dir/postgresql.log")
  # pg_ctl starts the postmaster in a session of its own with its output in the log; launch keeps our
  # stdio and our lock (fd 9) away from it. The socket lives in the run dir, not /var/run/postgresql.
  launch as_postgres "$bin/pg_ctl" -D "$dir/data" -l "$dir/postgresql.log" -w -t "$(timeout_for 30)" \
    -o "-p $POSTGRES_PORT -c listen_addresses=$HOST -k $dir -c fsync=off -c synchronous_commit=off -c full_page_writes=off" \
    start || true
  wait_port "$POSTGRES_PORT" "$(timeout_for 30)" postgresql "$dir/postgresql.log" "$offset"
  # postmaster.pid holds more than the PID; live_pid wants only it.
  head -n 1 "$dir/data/postmaster.pid" >"$dir/postgresql.pid"
  if ! as_postgres "$bin/psql" -h "$dir" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" -d postgres -Atqc \
    "SELECT 1 FROM pg_database WHERE datname = '$POSTGRES_DB'" | grep -q 1; then
    as_postgres "$bin/createdb" -h "$dir" -p "$POSTGRES_PORT" -U "$POSTGRES_USER" "$POSTGRES_DB" \
      || die "postgresql: createdb $POSTGRES_DB failed"
  fi
  log "postgresql: up on $HOST:$POSTGRES_PORT in $(since "$t0")s"
}

stop_postgresql() {
  local dir bin pid
  dir=$(postgresql_dir)
  pid=$(live_pid "$dir/postgresql.pid" postgres)
  if [[ -n $pid ]]; then
    bin=$(postgresql_bin)
    # A fast shutdown: SIGTERM (what stop_pid sends) would wait for every client to disconnect.
    as_postgres "$bin/pg_ctl" -D "$dir/data" -m fast -w -t 20 stop >/dev/null 2>&1 \
      || { kill -INT "$pid" 2>/dev/null; await_exit "$pid" postgresql 15; }
    rm -f "$dir/postgresql.pid"
    wait_port_closed "$POSTGRES_PORT" 10
    log "postgresql: stopped"
  elif port_open "$POSTGRES_PORT"; then
    log "postgresql: $HOST:$POSTGRES_PORT answers but was not started by this script (no live PID file); left running"
  else
    log "postgresql: not running"
  fi
}

status_postgresql() { status_line postgresql "$POSTGRES_PORT" "$(postgresql_dir)/postgresql.pid" postgres; }

foreign_postgresql() { port_open "$POSTGRES_PORT" && [[ -z $(live_pid "$(postgresql_dir)/postgresql.pid" postgres) ]]; }

env_postgresql() {
  env_line POSTGRES_URL "jdbc:postgresql://$HOST:$POSTGRES_PORT/$POSTGRES_DB?user=$POSTGRES_USER&password=$POSTGRES_PASSWORD"
  env_line MACHINERY_POSTGRES_PORT "$POSTGRES_PORT"
}
