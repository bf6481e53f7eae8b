#!/usr/bin/env bash
# Prints the tests that failed in the last run, one line each with the start of their message, read
# from every module's surefire and failsafe XML reports. `.ci/run` calls it when `make test` fails,
# so the end of a CI log, often all a reader gets to see, names what failed and why.
#
#   scripts/test-failures.sh [--newer FILE]    only reports written after FILE (a run's start)
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
newer=()
if [[ "${1:-}" == --newer ]]; then
  newer=(-newer "$2")
fi
mapfile -t reports < <(find "$root" -path '*/target/*-reports/TEST-*.xml' "${newer[@]}" 2>/dev/null | sort)
if ((${#reports[@]} == 0)); then
  echo "[test-failures] no test reports under $root${newer[1]:+ newer than ${newer[1]}}"
  exit 0
fi
if ! command -v python3 >/dev/null; then
  echo "[test-failures] reports with a failure or error (no python3 to read them further):"
  grep -lE '<(failure|error)[ >]' "${reports[@]}" || echo "  none"
  exit 0
fi
python3 - "$root" "${reports[@]}" <<'EOF'
import sys
import xml.etree.ElementTree as ET

root, reports = sys.argv[1], sys.argv[2:]
failed = []
for report in reports:
    try:
        suite = ET.parse(report).getroot()
    except ET.ParseError as e:
        failed.append(f"{report[len(root) + 1:]}: unreadable report ({e})")
        continue
    module = report[len(root) + 1:].split("/target/")[0]
    for case in suite.iter("testcase"):
        for kind in ("failure", "error"):
            for problem in case.findall(kind):
                message = " ".join((problem.get("message") or problem.get("type") or "").split())
                frame = next(
                    (line.strip() for line in (problem.text or "").splitlines()
                     if line.strip().startswith("at io.machinery")),
                    "")
                name = case.get("classname", "").rsplit(".", 1)[-1] + "." + case.get("name", "")
                failed.append(f"{module}: {name}: {kind}: {message[:400]} {frame}".rstrip())
if failed:
    print(f"[test-failures] {len(failed)} failed (surefire and failsafe reports):")
    for line in failed:
        print("  " + line)
else:
    print("[test-failures] no test failed in the reports: the build failed elsewhere (see above)")
EOF
