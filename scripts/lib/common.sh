# shellcheck shell=bash
# What scripts/services.sh, scripts/install.sh and the plug-ins in scripts/services.d share: where things live,
# logging and timing, the Debian package installer, and loading the plug-ins. Sourced, never run; once.
[[ -z ${MACHINERY_COMMON_LOADED:-} ]] || return 0
MACHINERY_COMMON_LOADED=1

RUN_DIR=${RUN_DIR:-${MACHINERY_RUN_DIR:-/tmp/machinery-services}}
SCRIPTS_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
# The server script's path: plug-ins find their files next to it, and tests call it to restart a server.
SCRIPT_PATH=$SCRIPTS_DIR/services.sh
HOST=127.0.0.1

log() { printf '[services] %s\n' "$*" >&2; }
die() { printf '[services] ERROR: %s\n' "$*" >&2; exit 1; }

now() { printf '%s' "${EPOCHREALTIME/,/.}"; }
since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }

# apt_install PKG...: installs the Debian packages not yet installed (one apt-get update + install for all of
# them), as root or through sudo; a no-op, without apt-get, when every one is there.
apt_install() {
  local missing=() pkg
  for pkg in "$@"; do
    [[ $(dpkg-query -W -f='${db:Status-Abbrev}' "$pkg" 2>/dev/null) == ii* ]] || missing+=("$pkg")
  done
  (( ${#missing[@]} )) || return 0
  mapfile -t missing < <(printf '%s\n' "${missing[@]}" | sort -u)
  local sudo=()
  if (( EUID != 0 )); then
    command -v sudo >/dev/null || die "missing packages ${missing[*]}; run as root or install them: apt-get install -y ${missing[*]}"
    sudo=(sudo)
  fi
  local t0; t0=$(now)
  log "installing ${missing[*]} (apt-get update + install)..."
  # The lock timeout matters on shared machines, where someone else may be running apt.
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 \
    || die "apt-get update failed"
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq "${missing[@]}" >&2 \
    || die "apt-get install ${missing[*]} failed"
  log "installed ${missing[*]} in $(since "$t0")s"
}

# The built-in servers, then one plug-in per scripts/services.d/NAME.sh (NAME in [a-z0-9]+), sourced here.
ALL_SERVICES=(redis redis-cluster rabbitmq memcached)
PLUGIN_SERVICES=()
for plugin in "$SCRIPTS_DIR"/services.d/*.sh; do
  [[ -e $plugin ]] || continue
  PLUGIN_SERVICES+=("$(basename "$plugin" .sh)")
  # shellcheck source=/dev/null
  . "$plugin"
done
ALL_SERVICES+=("${PLUGIN_SERVICES[@]}")
is_plugin() { local p; for p in "${PLUGIN_SERVICES[@]}"; do [[ $1 == "$p" ]] && return 0; done; return 1; }

check_names() {
  local n s ok
  for n in "$@"; do
    ok=false
    for s in "${ALL_SERVICES[@]}"; do [[ $n == "$s" ]] && ok=true; done
    $ok || die "unknown service '$n' (known: ${ALL_SERVICES[*]})"
  done
}
