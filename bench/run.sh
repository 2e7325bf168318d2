#!/usr/bin/env bash
# `make bench`: runs flowcpp and PyTorch (Debian's python3-torch) on the same cases,
# alternating, at 1 and 2 threads, then writes bench/RESULTS.md with bench/report.py:
#   the 2-D MLP step (build/bench/bench_mlp vs bench/torch_mlp.py), REPEATS times;
#   the image UNet step and forward pass (build/bench/bench_unet vs bench/torch_unet.py),
#   UNET_REPEATS times (each run times 3 iterations after a warm-up; PyTorch takes tens
#   of seconds per step here), and one engine profile of the 64-channel step.
# BENCH=mlp or BENCH=unet runs only that half (the report keeps what is there).
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
UNET_REPEATS=${UNET_REPEATS:-1}
BENCH=${BENCH:-all}
PY=/usr/bin/python3
out=build/bench/results.jsonl
mkdir -p build/bench
touch "$out"
# Keep the rows of the half that is not rerun.
if [ "$BENCH" = all ]; then : > "$out"
elif [ "$BENCH" = mlp ]; then grep '"case": "unet_' "$out" > "$out.keep" || true; mv "$out.keep" "$out"
else grep -v '"case": "unet_' "$out" > "$out.keep" || true; mv "$out.keep" "$out"; fi

# Runs one case on both sides, alternating, at 1 and 2 threads:
#   run_case REPEATS NAME FLOWCPP_BINARY PYTORCH_SCRIPT ARGS...
run_case() {
  local rep=$1 reps=$2 name=$3 ours=$4 theirs=$5
  shift 5
  for th in 1 2; do
    echo "bench: [$rep/$reps] $name threads=$th" >&2
    OMP_NUM_THREADS=$th "$ours" "$@" --threads "$th" \
      | sed "s/^{/{\"case\": \"$name\", \"rep\": $rep, /" >> "$out"
    OMP_NUM_THREADS=$th $PY "$theirs" "$@" --threads "$th" \
      | sed "s/^{/{\"case\": \"$name\", \"rep\": $rep, /" >> "$out"
  done
}

# name | args (--iters is the number of timed iterations)
mlp_cases=(
  "train_4096_512|--mode train --batch 4096 --hidden 512 --iters 20"
  "train_256_64|--mode train --batch 256 --hidden 64 --iters 300"
  "forward_100000_512|--mode forward --batch 100000 --hidden 512 --iters 5"
  "sgemm_4096_512|--mode sgemm --batch 4096 --hidden 512 --iters 30"
)
unet_cases=(
  "unet_train_mnist_32|--mode train --dataset mnist --channels 32"
  "unet_forward_mnist_32|--mode forward --dataset mnist --channels 32"
  "unet_train_mnist_64|--mode train --dataset mnist --channels 64"
  "unet_forward_mnist_64|--mode forward --dataset mnist --channels 64"
)
if [ "$BENCH" != unet ]; then
  for rep in $(seq 1 "$REPEATS"); do
    for c in "${mlp_cases[@]}"; do
      IFS='|' read -r name args <<< "$c"
      # shellcheck disable=SC2086
      run_case "$rep" "$REPEATS" "$name" build/bench/bench_mlp bench/torch_mlp.py $args
    done
  done
fi
if [ "$BENCH" != mlp ]; then
  for rep in $(seq 1 "$UNET_REPEATS"); do
    for c in "${unet_cases[@]}"; do
      IFS='|' read -r name args <<< "$c"
      # shellcheck disable=SC2086
      run_case "$rep" "$UNET_REPEATS" "$name" build/bench/bench_unet bench/torch_unet.py $args \
        --batch 128 --iters 3 --warmup 1
    done
  done
  echo "bench: engine profile of the 64-channel UNet step" >&2
  FLOWCPP_PROFILE=1 OMP_NUM_THREADS=2 build/bench/bench_unet --mode train --dataset mnist --channels 64 \
    --batch 128 --iters 1 --warmup 1 --threads 2 2> build/bench/unet_profile.md > /dev/null
fi
$PY bench/report.py "$out" bench/RESULTS.md
cat bench/RESULTS.md
