#!/usr/bin/env bash
# Prints the JAVA_HOME of a JDK >= 21 (the project compiles with --release 21).
#
# Order: $JAVA_HOME if it is a JDK >= 21; otherwise the newest JDK >= 21 under
# $JVM_DIR (default /usr/lib/jvm). Exits 1 with what to install when none exists.
set -euo pipefail

MIN_MAJOR=21
JVM_DIR=${JVM_DIR:-/usr/lib/jvm}

# Prints the full version ("25.0.3", "21.0.8", "17.0.15") of the JDK at $1,
# or nothing when $1 is not a JDK (a JRE has no javac).
jdk_version() {
  local home=$1 version=
  [[ -x $home/bin/java && -x $home/bin/javac ]] || return 0
  if [[ -r $home/release ]]; then
    version=$(sed -n 's/^JAVA_VERSION="\(.*\)"$/\1/p' "$home/release")
  fi
  if [[ -z $version ]]; then
    # No release file: ask the JVM (about 0.1 s).
    version=$("$home/bin/java" -XshowSettings:properties -version 2>&1 |
      sed -n 's/^ *java\.specification\.version = //p')
  fi
  printf '%s' "$version"
}

major_of() {
  local v=${1#1.}   # "1.8.0" -> "8.0"
  printf '%s' "${v%%[.+-]*}"
}

if [[ -n ${JAVA_HOME:-} ]]; then
  v=$(jdk_version "$JAVA_HOME")
  if [[ -n $v ]] && (( $(major_of "$v") >= MIN_MAJOR )); then
    printf '%s\n' "$JAVA_HOME"
    exit 0
  fi
fi

# "version<TAB>home" per JDK >= 21, newest last.
candidates=
if [[ -d $JVM_DIR ]]; then
  for home in "$JVM_DIR"/*/; do
    home=${home%/}
    [[ -L $home ]] && continue    # Debian adds symlink aliases of the same JDK
    v=$(jdk_version "$home")
    if [[ -z $v ]] || (( $(major_of "$v") < MIN_MAJOR )); then continue; fi
    candidates+="$v"$'\t'"$home"$'\n'
  done
fi

if [[ -n $candidates ]]; then
  printf '%s' "$candidates" | sort -V -k1,1 | tail -n1 | cut -f2
  exit 0
fi

{
  echo "find-jdk.sh: no JDK >= $MIN_MAJOR found (JAVA_HOME=${JAVA_HOME:-<unset>}, searched $JVM_DIR)."
  echo "Install one, for example:"
  echo "  apt-get install openjdk-21-jdk        (Debian 13 / Ubuntu 24.04)"
  echo "  or Eclipse Temurin 21+ from https://adoptium.net (apt: temurin-21-jdk)"
  echo "then rerun, or point JAVA_HOME at it."
} >&2
exit 1
