#!/usr/bin/env bash
# One more seed of the paper-preset comparison (bench/compare_cfm2d.sh runs seed 0 and
# times it): flowcpp and the PyTorch reference train the same recipe side by side at one
# thread each (about 65 minutes on 2 cores, then about 10 of sampling), and both sample
# files are scored by the same code (`cfm2d --score`, against seed 0's truth draws for
# every seed, so that all pairs compare). Only the samples count: both share the machine,
# so the wall times say nothing. Adds the pair to more_seeds in bench/cfm2d_paper.json
# (replacing an earlier run of that seed), which bench/report.py summarises. A side whose
# samples.npy exists is not trained again.
# Usage: bench/cfm2d_seed_pair.sh SEED
set -euo pipefail
cd "$(dirname "$0")/.."
seed=${1:?usage: bench/cfm2d_seed_pair.sh SEED}
[[ $seed =~ ^[1-9][0-9]*$ ]] || { echo "cfm2d_seed_pair.sh: SEED must be a positive integer (seed 0 is compare_cfm2d.sh's), got '$seed'" >&2; exit 1; }
bash scripts/install_deps.sh --bench  # python3-torch, as for `make bench`
out=${OUT:-build/compare_cfm2d}/seed$seed
mkdir -p "$out"
# A side whose samples are there already is not run again (an interrupted comparison).
[[ -f $out/flowcpp/checkerboard/samples.npy ]] ||
  ./apps/cfm2d checkerboard --preset paper --seed "$seed" --threads 1 --no-plots --output "$out/flowcpp" &
[[ -f $out/pytorch/samples.npy ]] ||
  /usr/bin/python3 bench/torch_cfm2d.py "$out/pytorch" --threads 1 --seed "$seed" &
wait
./apps/cfm2d checkerboard --score "$out/flowcpp/checkerboard/samples.npy" > "$out/flowcpp_score.json"
./apps/cfm2d checkerboard --score "$out/pytorch/samples.npy" > "$out/pytorch_score.json"
/usr/bin/python3 - "$out" "$seed" <<'PY'
import json, sys, datetime
out, seed = sys.argv[1], int(sys.argv[2])
keep = ("energy_distance", "energy_distance_all_points", "energy_distance_all_points_se", "in_square_fraction")
pair = {"seed": seed, "date": datetime.date.today().isoformat(), "threads": 1,
        "density": "checkerboard"}  # the reference's board (the pairs before 2026-12-01: checkerboard-fb)
for impl in ("flowcpp", "pytorch"):
    s = json.load(open(f"{out}/{impl}_score.json"))
    pair[impl] = {k: s[k] for k in keep}
c = json.load(open("bench/cfm2d_paper.json"))
c["more_seeds"] = sorted([p for p in c.get("more_seeds", []) if p["seed"] != seed] + [pair],
                         key=lambda p: p["seed"])
json.dump(c, open("bench/cfm2d_paper.json", "w"), indent=2)
print(json.dumps(pair))
PY
