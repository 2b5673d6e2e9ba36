#!/usr/bin/env bash
# Runner overhead on a chain of N trivial shell stages: the same chain as
# ../shared/bench/dvc_overhead.sh (stage i copies stage i-1's output and appends a line; stage 1
# also reads the param `seed`). Times hone's first run, no-op rerun, `status`, and the rerun after
# changing the first stage's param; then, when `dvc` is on PATH, DVC on the same chain in the
# same run, and the ratios. One JSON line each.
# Usage: bench/runner_overhead.sh HONE_BINARY [N]
set -euo pipefail
HONE=$(realpath "$1"); N=${2:-100}
HERE=$(cd "$(dirname "$0")" && pwd)
W=$(mktemp -d /tmp/hone_bench.XXXX); trap 'rm -rf "$W"' EXIT
cd "$W"
echo start > in.txt
{
  echo "vars:"
  echo "  seed: 1"
  echo "stages:"
  prev=in.txt
  for i in $(seq 1 "$N"); do
    echo "  s$i:"
    echo "    kind: shell"
    if [ "$i" = 1 ]; then
      echo "    cmd: (cat $prev; echo seed \${seed}) > o$i.txt"
      echo "    params: [seed]"
    else
      echo "    cmd: (cat $prev; echo $i) > o$i.txt"
    fi
    echo "    deps: [$prev]"
    echo "    outs: [o$i.txt]"
    prev=o$i.txt
  done
} > hone.yaml
t() { local s e; s=$(date +%s.%N); "$@" >/dev/null 2>&1; e=$(date +%s.%N); awk -v a="$s" -v b="$e" 'BEGIN { printf "%.4f", b - a }'; }
first=$(t "$HONE" run hone.yaml)
noop=$(t "$HONE" run hone.yaml)
status=$(t "$HONE" status hone.yaml)
sed -i 's/seed: 1/seed: 2/' hone.yaml
changed=$(t "$HONE" run hone.yaml)
[ "$(tail -n 1 "o$N.txt")" = "$N" ] && grep -q "seed 2" "o$N.txt" || { echo '{"bench":"runner_overhead","error":"wrong output"}'; exit 1; }
hone_line="{\"bench\":\"runner_overhead\",\"tool\":\"hone\",\"stages\":$N,\"first_s\":$first,\"noop_s\":$noop,\"status_s\":$status,\"rerun_all_s\":$changed}"
echo "$hone_line"
if command -v dvc >/dev/null 2>&1 && [ -f "$HERE/../../shared/bench/dvc_overhead.sh" ]; then
  dvc_line=$(bash "$HERE/../../shared/bench/dvc_overhead.sh" "$N" | tail -n 1)
  echo "$dvc_line" | sed -E 's/:(-?)\./:\10./g'
  python3 - "$hone_line" "$dvc_line" <<'PY'
import json, sys
import re
fix = lambda s: json.loads(re.sub(r":(-?)\.", r":\g<1>0.", s))  # dvc_overhead.sh's bc prints ".5"
h, d = fix(sys.argv[1]), fix(sys.argv[2])
r = {k: round(d[k] / h[k], 1) for k in ("first_s", "noop_s", "status_s", "rerun_all_s")}
print(json.dumps({"bench": "runner_overhead_ratio", "stages": h["stages"], "dvc_over_hone": r,
                  "goal": "noop_s and status_s >= 20"}))
PY
else
  echo "{\"bench\":\"runner_overhead\",\"tool\":\"dvc\",\"skipped\":\"dvc not on PATH (make deps-bench installs it into .venv-bench)\"}"
fi
