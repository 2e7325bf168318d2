#!/usr/bin/env bash
# CFM, reflow and minibatch OT-CFM on every built-in 2-D density with the quick presets,
# then compare2d's straightness and few-step table for each, summarised by
# bench/rectify_report.py into OUT/summary.md (the table in docs/results-2d.md and RESULTS.md).
#   bash bench/rectify_all.sh [OUT] [DENSITY...]     (default outputs/rectify, all eight)
# Runs two densities at a time at one thread each (two single-threaded runs use two
# cores better than one run on two threads). About an hour on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
OUT=${1:-outputs/rectify}
shift || true
DENSITIES=("$@")
[ ${#DENSITIES[@]} -gt 0 ] || DENSITIES=(checkerboard moons mixture 8gaussians spirals circles pinwheel swissroll)
mkdir -p "$OUT/logs"

one() {
  local d=$1 log="$OUT/logs/$1.log"
  {
    ./apps/cfm2d "$d" --no-plots --threads 1 --output "$OUT/cfm"
    ./apps/reflow2d "$d" --no-plots --threads 1 --output "$OUT/reflow" --pretrained "$OUT/cfm/$d/ckpt.safetensors"
    ./apps/cfm2d "$d" --coupling ot --no-plots --threads 1 --output "$OUT/cfm_ot"
    ./apps/compare2d "$d" --no-gif --threads 1 --output "$OUT/comparisons" --cfm "$OUT/cfm/$d/ckpt.safetensors" \
      --reflow "$OUT/reflow/$d/ckpt.safetensors" --ot "$OUT/cfm_ot/$d/ckpt.safetensors"
  } > "$log" 2>&1 && echo "$d done" || { echo "$d FAILED (see $log)"; return 1; }
}

lane() {  # every second density, starting at $1
  local i
  for ((i = $1; i < ${#DENSITIES[@]}; i += 2)); do one "${DENSITIES[$i]}" || true; done
}

start=$(date +%s)
lane 0 &
lane 1 &
wait
echo "all densities in $(( $(date +%s) - start )) s"
/usr/bin/python3 bench/rectify_report.py "$OUT"
