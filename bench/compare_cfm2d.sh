#!/usr/bin/env bash
# The paper-preset comparison of cfm2d with the PyTorch reference (about an hour on 2
# cores; not part of `make bench`): both train the reference recipe on checkerboard and
# draw 1,000,000 samples with midpoint steps of 0.05; both sample files are scored by
# the same code (`cfm2d --score`). Writes bench/cfm2d_paper.json, which
# bench/report.py shows in bench/RESULTS.md (more seeds: bench/cfm2d_seed_pair.sh). Run
# it on an otherwise idle machine.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install_deps.sh --bench  # python3-torch, as for `make bench`
out=${OUT:-build/compare_cfm2d}
mkdir -p "$out"
./apps/cfm2d checkerboard --preset paper --output "$out/flowcpp"
/usr/bin/python3 bench/torch_cfm2d.py "$out/pytorch" --threads 2 | tail -1 > "$out/pytorch.json"
./apps/cfm2d checkerboard --score "$out/pytorch/samples.npy" > "$out/pytorch_score.json"
./apps/cfm2d checkerboard --score "$out/flowcpp/checkerboard/samples.npy" > "$out/flowcpp_score.json"
/usr/bin/python3 - "$out" <<'PY'
import json, sys, datetime
out = sys.argv[1]
f = json.load(open(f"{out}/flowcpp/checkerboard/metrics.json"))
p = json.load(open(f"{out}/pytorch.json"))
fs = json.load(open(f"{out}/flowcpp_score.json"))
ps = json.load(open(f"{out}/pytorch_score.json"))
try:  # keep the other seeds (bench/cfm2d_seed_pair.sh)
    c = json.load(open("bench/cfm2d_paper.json"))
except FileNotFoundError:
    c = {}
c.update({"date": datetime.date.today().isoformat(), "density": "checkerboard",  # seed 0's board
          "flowcpp": {"train_s": f["time_train_s"], "sample_s": f["time_sample_s"], **fs},
          "pytorch": {"train_s": p["train_s"], "sample_s": p["sample_s"], "torch": p["torch"], **ps}})
json.dump(c, open("bench/cfm2d_paper.json", "w"), indent=2)
PY
cat bench/cfm2d_paper.json
