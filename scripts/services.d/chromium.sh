# shellcheck shell=bash
# Debian's headless Chromium and its ChromeDriver, for the dashboard's browser tests (machinery-dashboard's *IT):
# not a server, but installed here so `make test` (and CI's fresh machine) has them before the tests run, and
# the tests never download a browser. install_chromium is idempotent: apt-get runs only when /usr/bin/chromium
# or /usr/bin/chromedriver is missing. Exports CHROMIUM_BIN and CHROMEDRIVER_BIN.
CHROMIUM_BIN=${CHROMIUM_BIN:-/usr/bin/chromium}
CHROMEDRIVER_BIN=${CHROMEDRIVER_BIN:-/usr/bin/chromedriver}

install_chromium() {
  if [[ -x $CHROMIUM_BIN && -x $CHROMEDRIVER_BIN ]]; then return; fi
  apt_install chromium chromium-driver
  [[ -x $CHROMIUM_BIN && -x $CHROMEDRIVER_BIN ]] || die "chromium: installed, but $CHROMIUM_BIN or $CHROMEDRIVER_BIN is missing"
}

start_chromium() { log "chromium: present ($CHROMIUM_BIN, $CHROMEDRIVER_BIN)"; }

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
