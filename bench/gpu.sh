#!/usr/bin/env bash
# bench/gpu.sh: the CUDA backend on a real GPU, in one run that fits the GPU machine's
# 15 minutes: build, the [cuda] tests on the device, cfm2d on CUDA against the CPU,
# compute-sanitizer's four tools over the kernels' tests, the timings of issue 15 against
# PyTorch on the same GPU (beside bench/roofline.md's prediction), one cfm_image quick run.
# Ends with one table (also written to build/gpu/summary.md, rows in results.jsonl).
#
#   bench/gpu.sh              on the GPU machine (it has no package registry: carry
#                             .deps, made here with ../shared/tools/offline-deps.sh pack,
#                             then `cd .deps && apt-get download libcurl4-openssl-dev libcurl4`:
#                             that tool's list predates the dataset downloader's libcurl)
#   bench/gpu.sh --emulated   here, on the emulated device, at tiny sizes: proves the
#                             script and the programs before the one real run
set -euo pipefail
cd "$(dirname "$0")/.."
EMU=0
[ "${1:-}" = "--emulated" ] && EMU=1
out=build/gpu
mkdir -p "$out"
: > "$out/results.jsonl"
log() { echo "gpu.sh: $*" >&2; }
PY=${PY:-python3}
have_torch=0
$PY -c "import torch" 2>/dev/null && have_torch=1

if [ "$EMU" = 1 ]; then
  make --no-print-directory apps build/emulated/cfm2d build/emulated/bench/bench_mlp build/emulated/bench/bench_unet build/run_tests >&2
  BIN=build/emulated; DEV=cuda; TDEV=cpu
  # Tiny sizes: the emulator runs a kernel at CPU speed, a fiber per thread.
  MLP_TRAIN="--batch 256 --hidden 64 --iters 2 --warmup 1"
  MLP_SAMPLE="--batch 4096 --hidden 64 --steps 2 --iters 1 --warmup 0"
  UNET="--channels 32 --batch 2 --iters 1 --warmup 0"
  TESTS=(build/run_tests "[cuda]~[apps]")
else
  if [ -f .deps/offline-deps.sh ]; then eval "$(bash .deps/offline-deps.sh unpack .deps /opt/deps)"; fi
  BLAS=(BLAS_DIR=/opt/deps/usr/lib/x86_64-linux-gnu/openblas-openmp BLAS_INC=/opt/deps/usr/include/x86_64-linux-gnu/openblas-openmp)
  [ -d /opt/deps/usr/lib ] || BLAS=()
  log "building (nvcc, MPI=0)"
  make --no-print-directory -j"$(nproc)" MPI=0 "${BLAS[@]}" apps build/bench/bench_mlp build/bench/bench_unet build/run_tests_gpu >&2
  BIN=build; DEV=cuda; TDEV=cuda
  nvidia-smi -L >&2 || true
  MLP_TRAIN="--batch 4096 --hidden 512 --iters 50 --warmup 5"
  MLP_SAMPLE="--batch 1000000 --hidden 512 --steps 20 --iters 3 --warmup 1"
  UNET="--channels 64 --batch 128 --iters 10 --warmup 2"
  TESTS=(build/run_tests_gpu "[cuda]~[apps]")
fi
mlp_bin=$BIN/bench/bench_mlp; unet_bin=$BIN/bench/bench_unet
[ "$EMU" = 1 ] && cfm2d_cuda=build/emulated/cfm2d || cfm2d_cuda=apps/cfm2d

log "1. the [cuda] tests on the device (${TESTS[*]})"
tests_line=$("${TESTS[@]}" 2>&1 | tail -1)
log "   $tests_line"

# NVIDIA's compute-sanitizer over the same tests, one tool at a time (the emulator's own
# memcheck, racecheck, initcheck and synccheck run in make check; this is the GPU's word
# on them). The kernels' tests only: the UNet fixtures and the programs would take the
# 15 minutes under it: the kernel-against-CPU tests, 90 s a tool at most. Each tool's last line, "ERROR SUMMARY: N errors".
sanitizer_row="not run (--emulated: make check runs the emulator's checks)"
if [ "$EMU" = 0 ]; then
  cs=$(command -v compute-sanitizer || echo "${CUDA_HOME:-/usr/local/cuda}/bin/compute-sanitizer")
  if [ -x "$cs" ]; then
    sanitizer_row=""
    for tool in memcheck racecheck initcheck synccheck; do
      log "1b. compute-sanitizer --tool $tool over the [cuda][kernels] tests"
      line=$(timeout 90 "$cs" --tool "$tool" --print-limit 20 build/run_tests_gpu "[cuda][kernels]" 2>&1 |
        tee "$out/sanitizer_$tool.log" | grep -a 'ERROR SUMMARY' | tail -1 || true)
      sanitizer_row+="$tool: ${line:-no summary (timed out? $out/sanitizer_$tool.log)}; "
      log "   $tool: ${line:-no summary}"
    done
  else
    sanitizer_row="not run: no compute-sanitizer at $cs"
  fi
fi

log "2. cfm2d, 20 iterations, on CUDA and on the CPU"
c2=" checkerboard --iterations 20 --batch-size 4096 --hidden 512 --train-only --checkpoint-every 0"
[ "$EMU" = 1 ] && c2=" checkerboard --iterations 20 --batch-size 256 --hidden 64 --train-only --checkpoint-every 0"
rm -rf "$out/cfm2d"
# shellcheck disable=SC2086
apps/cfm2d $c2 --device cpu --output "$out/cfm2d/cpu" 2>/dev/null
# shellcheck disable=SC2086
$cfm2d_cuda $c2 --device cuda --output "$out/cfm2d/cuda" 2> "$out/cfm2d_cuda.err"
head -1 "$out/cfm2d_cuda.err" >&2
cfm2d_rel=$(paste -d, "$out/cfm2d/cpu/checkerboard/losses.csv" "$out/cfm2d/cuda/checkerboard/losses.csv" | tail -n +2 |
  awk -F, '{d = ($2 - $4) / $2; if (d < 0) d = -d; if (d > m) m = d} END {printf "%.2g", m}')
log "   largest relative loss difference: $cfm2d_rel"

# One timing case on both sides: case NAME OURS_BINARY THEIR_SCRIPT ARGS...
case_row() {
  local name=$1 ours=$2 theirs=$3; shift 3
  log "3. $name"
  "$ours" "$@" --device "$DEV" | sed "s/^{/{\"case\": \"$name\", /" >> "$out/results.jsonl"
  if [ "$have_torch" = 1 ]; then
    $PY "$theirs" "$@" --device "$TDEV" | sed "s/^{/{\"case\": \"$name\", /" >> "$out/results.jsonl"
  fi
}
# shellcheck disable=SC2086
case_row mlp_train "$mlp_bin" bench/torch_mlp.py --mode train $MLP_TRAIN
# shellcheck disable=SC2086
case_row mlp_sample "$mlp_bin" bench/torch_mlp.py --mode sample $MLP_SAMPLE
# shellcheck disable=SC2086
case_row unet_train "$unet_bin" bench/torch_unet.py --mode train --dataset mnist $UNET
# shellcheck disable=SC2086
case_row unet_forward "$unet_bin" bench/torch_unet.py --mode forward --dataset mnist $UNET
# The UNet again with the cuBLAS form of attention (t x t weights in device memory), to
# choose the default: flowcpp only, its ratio taken against the same PyTorch row.
for mode in train forward; do
  log "3. unet_${mode}_gemm_attention"
  # shellcheck disable=SC2086
  "$unet_bin" --mode $mode --dataset mnist $UNET --attention gemm --device "$DEV" |
    sed "s/^{/{\"case\": \"unet_${mode}_gemm_attention\", /" >> "$out/results.jsonl"
done

image_row="not run (--emulated)"
if [ "$EMU" = 0 ]; then
  ds=fashion_mnist
  [ -d data/fashion_mnist ] || ds=mnist
  log "4. cfm_image --train $ds --sample $ds (quick preset) on the GPU"
  t0=$(date +%s)
  if timeout 480 apps/cfm_image --train "$ds" --sample "$ds" --device cuda --output "$out/cfm_image" 2> "$out/cfm_image.err"; then
    acc=$($PY -c "import json; print(round(json.load(open('$out/cfm_image/$ds/metrics.json'))['eval']['conditional_accuracy'], 3))")
    image_row="$ds: $(( $(date +%s) - t0 )) s end to end, conditional accuracy $acc"
  else
    image_row="$ds: failed or over 8 minutes (see $out/cfm_image.err: $(tail -1 "$out/cfm_image.err"))"
  fi
fi

$PY - "$out/results.jsonl" "$tests_line" "$cfm2d_rel" "$image_row" "$have_torch" "$sanitizer_row" > "$out/summary.md" <<'PYEOF'
import json, sys
path, tests, rel, image, have_torch, sanitizer = sys.argv[1:7]
rows = [json.loads(l) for l in open(path) if l.strip()]
cases = {}
for r in rows:
    cases.setdefault(r["case"], {})[r["impl"]] = r
targets = {"mlp_train": "<= 0.5", "mlp_sample": "<= 0.5", "unet_train": "<= 1.0", "unet_forward": "<= 1.0",
           "unet_train_gemm_attention": "(cuBLAS attention)", "unet_forward_gemm_attention": "(cuBLAS attention)"}
# Peak device memory in tensors, like for like: our allocator's peak of active bytes
# against torch.cuda.max_memory_allocated (what each caching allocator reserved is larger).
print("| case | flowcpp ms | PyTorch ms | ratio | target | flowcpp peak MB | PyTorch peak MB | flowcpp launches |")
print("|---|---|---|---|---|---|---|---|")
for name, c in cases.items():
    base = name.replace("_gemm_attention", "")
    ours, theirs = c.get("flowcpp"), cases.get(base, {}).get("pytorch")
    o = ours["median_ms"] if ours else float("nan")
    t = theirs["median_ms"] if theirs else float("nan")
    ratio = f"{o / t:.2f}" if ours and theirs else "-"
    print(f"| {name} | {o:.3f} | {t:.3f} | {ratio} | {targets.get(name, '')} | "
          f"{ours['tensor_active_peak_mb'] if ours else '-'} | {theirs.get('device_peak_mb', '-') if theirs else '-'} | "
          f"{ours.get('launches_per_iter', '-') if ours else '-'} |")
dev = rows[0]["device"] if rows else "?"
print(f"\nflowcpp device: {dev}. PyTorch: {'fp32 eager, same device' if have_torch == '1' else 'not installed here: no PyTorch column'}.")
print(f"[cuda] tests: {tests}")
print(f"compute-sanitizer: {sanitizer}")
print(f"cfm2d 20 iterations, CUDA vs CPU: largest relative loss difference {rel}")
print(f"cfm_image quick preset: {image}")
PYEOF
cat "$out/summary.md"
