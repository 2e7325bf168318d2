#!/usr/bin/env bash
# `make bench`: runs flowcpp (build/bench/bench_mlp) and PyTorch (bench/torch_mlp.py,
# Debian's python3-torch) on the same cases, alternating, at 1 and 2 threads,
# REPEATS times, then writes bench/RESULTS.md with bench/report.py.
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
PY=/usr/bin/python3
out=build/bench/results.jsonl
mkdir -p build/bench
: > "$out"

# name | args | iterations
cases=(
  "train_4096_512|--mode train --batch 4096 --hidden 512|20"
  "train_256_64|--mode train --batch 256 --hidden 64|300"
  "forward_100000_512|--mode forward --batch 100000 --hidden 512|5"
  "sgemm_4096_512|--mode sgemm --batch 4096 --hidden 512|30"
)
for rep in $(seq 1 "$REPEATS"); do
  for c in "${cases[@]}"; do
    IFS='|' read -r name args iters <<< "$c"
    for th in 1 2; do
      echo "bench: [$rep/$REPEATS] $name threads=$th" >&2
      # shellcheck disable=SC2086
      OMP_NUM_THREADS=$th build/bench/bench_mlp $args --iters "$iters" --threads "$th" \
        | sed "s/^{/{\"case\": \"$name\", \"rep\": $rep, /" >> "$out"
      # shellcheck disable=SC2086
      OMP_NUM_THREADS=$th $PY bench/torch_mlp.py $args --iters "$iters" --threads "$th" \
        | sed "s/^{/{\"case\": \"$name\", \"rep\": $rep, /" >> "$out"
    done
  done
done
$PY bench/report.py "$out" bench/RESULTS.md
cat bench/RESULTS.md
