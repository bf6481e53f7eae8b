# shellcheck shell=bash
# Debian's headless Chromium and its ChromeDriver, for the dashboard's browser tests (machinery-dashboard's *IT):
# not a server, but installed here so `make test` (and CI's fresh machine) has them before the tests run, and
# the tests never download a browser. Idempotent: apt-get runs only when /usr/bin/chromium or
# /usr/bin/chromedriver is missing. Exports CHROMIUM_BIN and CHROMEDRIVER_BIN.
CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
CHROMEDRIVER_BIN=${CHROMEDRIVER_BIN:-/usr/bin/chromedriver}

start_chromium() {
  if [[ -x $CHROMIUM_BIN && -x $CHROMEDRIVER_BIN ]]; then
    log "chromium: present ($CHROMIUM_BIN, $CHROMEDRIVER_BIN)"
    return
  fi
  local sudo=() t0
  if (( EUID != 0 )); then
    command -v sudo >/dev/null || die "chromium: run as root or: apt-get install -y chromium chromium-driver"
    sudo=(sudo)
  fi
  t0=$(now)
  log "chromium: installing chromium chromium-driver (apt-get)..."
  "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 update -qq >&2 \
    && "${sudo[@]}" env DEBIAN_FRONTEND=noninteractive apt-get -o DPkg::Lock::Timeout=300 install -y -qq \
      chromium chromium-driver >&2 \
    || die "chromium: apt-get install chromium chromium-driver failed"
  [[ -x $CHROMIUM_BIN && -x $CHROMEDRIVER_BIN ]] || die "chromium: installed, but $CHROMIUM_BIN or $CHROMEDRIVER_BIN is missing"
  log "chromium: installed in $(since "$t0")s"
}

stop_chromium() { :; }

status_chromium() {
  local state=missing
  [[ -x $CHROMIUM_BIN && -x $CHROMEDRIVER_BIN ]] && state="installed (not a server)"
  printf '%-14s %-22s %-6s %s\n' chromium - - "$state"
}

env_chromium() {
  env_line CHROMIUM_BIN "$CHROMIUM_BIN"
  env_line CHROMEDRIVER_BIN "$CHROMEDRIVER_BIN"
}
