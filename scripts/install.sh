#!/usr/bin/env bash
# Installs what the test servers need, and starts nothing: the Debian packages of the built-in servers, and
# whatever each plug-in of scripts/services.d fetches or builds (its install_NAME: Chromium, Node.js + dynalite,
# the ElasticMQ and mongo-java-server jars, pstest built with Go, ...). Idempotent, and quick when all is there.
#
#   scripts/install.sh [NAME...]   NAMEs as scripts/services.sh knows them (default: all)
#
# scripts/services.sh start runs it first; run it alone to prepare a machine (or an image) ahead of time.
set -euo pipefail
# shellcheck source=lib/common.sh
. "$(dirname "${BASH_SOURCE[0]}")/lib/common.sh"

packages_for() {
  case $1 in
    redis | redis-cluster) echo redis-server redis-tools ;;
    rabbitmq) echo rabbitmq-server ;;
    memcached) echo memcached ;;
  esac
}

install_services() {
  local n packages=()
  for n in "$@"; do
    # shellcheck disable=SC2207
    packages+=($(packages_for "$n"))
  done
  (( ${#packages[@]} == 0 )) || apt_install "${packages[@]}"
  for n in "$@"; do
    if is_plugin "$n" && declare -F "install_$n" >/dev/null; then "install_$n"; fi
  done
}

if [[ ${BASH_SOURCE[0]} == "$0" ]]; then
  (( $# )) || set -- "${ALL_SERVICES[@]}"
  check_names "$@"
  install_services "$@"
  log "installed: $*"
fi
