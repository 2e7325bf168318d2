#!/usr/bin/env bash
# Probability paths and Schrödinger-bridge CFM on one 2-D density: trains cfm2d's quick
# preset once per path (condot, poly:2, linear-vp, cosine, vp) and once with
# --coupling sb, then writes bench/paths_summary.md (quality of the samples, the
# straightness, few-step quality). Two runs at a time, one thread each; a run whose
# metrics.json exists is not redone (RUNS="condot cosine" picks the runs).
#   bash bench/paths_2d.sh [DENSITY]      (default checkerboard; about 30 min on 2 cores)
set -euo pipefail
cd "$(dirname "$0")/.."
density=${1:-checkerboard}
out=outputs/paths
read -r -a runs <<< "${RUNS:-condot poly:2 linear-vp cosine vp sb}"
run_one() {
  local spec=$1 dir=$out/${1//:/}
  [[ -f $dir/$density/metrics.json ]] && { echo "paths_2d: $spec already done" >&2; return 0; }
  local args=(--path "$spec")
  [[ $spec == sb ]] && args=(--coupling sb --sb-sigma 0.5)
  ./apps/cfm2d "$density" "${args[@]}" --no-plots --threads 1 --output "$dir" 2> "$dir.log" ||
    { echo "paths_2d: $spec failed, see $dir.log" >&2; return 1; }
  echo "paths_2d: $spec done ($(tail -n 1 "$dir.log"))" >&2
}
mkdir -p "$out"
for ((i = 0; i < ${#runs[@]}; i += 2)); do
  run_one "${runs[i]}" & a=$!
  if ((i + 1 < ${#runs[@]})); then run_one "${runs[i + 1]}" & b=$!; wait $b; fi
  wait $a
done
/usr/bin/python3 - "$density" "$out" "${runs[@]}" > bench/paths_summary.md <<'PY'
import json, sys
density, out, runs = sys.argv[1], sys.argv[2], sys.argv[3:]
print(f"# Probability paths on {density} (`bash bench/paths_2d.sh {density}`)\n")
print("cfm2d's quick preset, seed 0, 1 thread a run; ED = energy distance to fresh true samples "
      "(all points, 20,000-point blocks, ± its standard error); few-step columns: ED after k Euler steps.\n")
cols = "| path | final loss | ED (all points) | in-square | straightness | ED 1 step | ED 2 steps | ED 8 steps | train s |"
print(cols); print("|" + "---|" * (cols.count("|") - 1))
for r in runs:
    m = json.load(open(f"{out}/{r.replace(':', '')}/{density}/metrics.json"))
    few = {row["steps"]: row["energy_distance"] for row in m["few_step"]}
    name = "sb (S = 0.5)" if r == "sb" else r
    sq = m.get("in_square_fraction")
    print(f"| {name} | {m['final_loss']:.4g} | {m['energy_distance_all_points']:.3g} ± {m['energy_distance_all_points_se']:.1g} | "
          f"{'' if sq is None else f'{sq:.4f}'} | {m['straightness']:.4g} | {few[1]:.3g} | {few[2]:.3g} | {few[8]:.3g} | {m['time_train_s']:.0f} |")
PY
cat bench/paths_summary.md
