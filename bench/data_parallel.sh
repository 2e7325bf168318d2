#!/usr/bin/env bash
# Data-parallel steps on this machine: 1 process x 2 threads against 2 ranks x 1 thread
# (mpirun; one all-reduce after backward, and 1 MiB buckets overlapped with backward as
# the programs run it), for cfm_image's quick UNet step (batch 64) and cfm2d's paper
# step (MLP 512, batch 4096), REPEATS times, alternating; then the loopback all-reduce sweep. JSON
# lines go to build/bench/data_parallel.jsonl; the medians over the repeats are printed.
# Runs under nice: the machine may be shared.
#   bash bench/data_parallel.sh        (after make build/bench/bench_data_parallel)
set -euo pipefail
cd "$(dirname "$0")/.."
REPEATS=${REPEATS:-3}
bin=build/bench/bench_data_parallel
out=build/bench/data_parallel.jsonl
mpi="mpirun -q --allow-run-as-root --oversubscribe --bind-to core -np 2 -x OMP_NUM_THREADS=1"
: > "$out"
for rep in $(seq "$REPEATS"); do
  for model in mlp unet; do
    iters=20; [ "$model" = unet ] && iters=4
    echo "bench: [$rep/$REPEATS] $model" >&2
    OMP_NUM_THREADS=2 nice -n 10 $bin --model "$model" --threads 2 --iters $iters --warmup 1 >> "$out"
    nice -n 10 $mpi $bin --model "$model" --threads 1 --iters $iters --warmup 1 >> "$out"
    nice -n 10 $mpi $bin --model "$model" --threads 1 --iters $iters --warmup 1 --bucket-mb 1 >> "$out"
  done
done
nice -n 10 $mpi $bin --model allreduce --iters 20 --warmup 3 >> "$out"
python3 - "$out" <<'PY'
import json, statistics, sys
rows = [json.loads(l) for l in open(sys.argv[1])]
print("| step | layout | median step (ms) | all-reduce (ms) | all-reduce share | repeats |")
print("|---|---|---|---|---|---|")
for case in ("dp_unet", "dp_mlp"):
    for ranks, threads, bucket in ((1, 2, 0), (2, 1, 0), (2, 1, 1)):
        r = [x for x in rows if x["case"] == case and x["ranks"] == ranks and x.get("bucket_mb", 0) == bucket]
        if not r: continue
        step = statistics.median(x["median_step_ms"] for x in r)
        red = statistics.median(x["median_allreduce_ms"] for x in r)
        layout = f"{ranks} x {threads} threads" + (", 1 MiB buckets overlapped" if bucket else "")
        reduce = f"{red:.2f} | {red / step:.1%}" if red >= 0 else "(inside backward) | -"
        print(f"| {case} (batch {r[0]['batch']}, {r[0]['params']} params) | {layout} | "
              f"{step:.1f} | {reduce} | {len(r)} |")
print()
print("| bytes | median all-reduce (ms) | bus bandwidth (GB/s) |")
print("|---|---|---|")
for x in rows:
    if x["case"] == "allreduce":
        print(f"| {x['bytes']} | {x['median_ms']:.3f} | {x['bus_gb_per_s']:.2f} |")
PY
