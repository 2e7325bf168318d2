"""Turns build/bench/results.jsonl into bench/RESULTS.md: per case, the median over
repeats of each run's median, at each thread count; each side at its best thread
count; the ratio flowcpp / PyTorch; GFLOP/s against the bare sgemm rate."""
import collections, datetime, json, os, platform, statistics, subprocess, sys

TARGETS = {"train_4096_512": 0.6, "train_256_64": 0.25, "forward_100000_512": 0.5}
TITLES = {
    "train_4096_512": "training step, B=4096, H=512 (reference recipe)",
    "train_256_64": "training step, B=256, H=64 (overhead-bound)",
    "forward_100000_512": "forward only, B=100,000, H=512 (sampling)",
    "sgemm_4096_512": "bare sgemm [4096,512]x[512,512]^T",
}


def main(src, dst):
    rows = [json.loads(l) for l in open(src) if l.strip()]
    by = collections.defaultdict(list)
    for r in rows:
        by[(r["case"], r["impl"], r["threads"])].append(r)
    cases = list(dict.fromkeys(r["case"] for r in rows))
    cpu = subprocess.run(["sh", "-c", "lscpu | sed -n 's/^Model name: *//p'"],
                         capture_output=True, text=True).stdout.strip()
    torch_v = next((r.get("torch") for r in rows if r["impl"] == "pytorch"), "?")
    reps = max(r["rep"] for r in rows)
    out = []
    out.append("# Benchmark results\n")
    out.append(f"Command: `make bench` (bench/run.sh, {reps} repeats, alternating flowcpp and "
               f"PyTorch). Date: {datetime.date.today().isoformat()}. Machine: {cpu}, "
               f"{subprocess.run(['nproc'], capture_output=True, text=True).stdout.strip()} cores, "
               f"OPENBLAS_CORETYPE={__import__('os').environ.get('OPENBLAS_CORETYPE', 'unset')}. "
               f"PyTorch {torch_v} (Debian python3-torch), flowcpp on OpenBLAS (OpenMP build).\n")
    out.append("Times are the median over repeats of each run's median step time. Each side is "
               "shown at its best thread count (1 or 2). Peak memory is the process's peak RSS "
               "(flowcpp's own tensor peak in brackets).\n")
    out.append("| case | flowcpp ms (threads) | PyTorch ms (threads) | ratio | target | "
               "flowcpp GFLOP/s | PyTorch GFLOP/s | peak RSS flowcpp / PyTorch MB |")
    out.append("|---|---|---|---|---|---|---|---|")
    sgemm = {}
    floors = []
    for case in cases:
        if case.startswith("unet_"):
            continue
        best = {}
        for impl in ("flowcpp", "pytorch"):
            opts = []
            for th in (1, 2):
                rs = by.get((case, impl, th))
                if rs:
                    opts.append((statistics.median(r["median_ms"] for r in rs), th, rs))
            if opts:
                best[impl] = min(opts)
        if len(best) < 2:
            continue
        (fm, fth, frs), (pm, pth, prs) = best["flowcpp"], best["pytorch"]
        fg = statistics.median(r["gflops"] for r in frs)
        pg = statistics.median(r["gflops"] for r in prs)
        if case.startswith("sgemm"):
            sgemm = {"flowcpp": fg, "pytorch": pg}
        target = TARGETS.get(case)
        ratio = fm / pm
        verdict = "" if target is None else (f"≤ {target} {'met' if ratio <= target else 'NOT met'}")
        frss = max(r["peak_rss_mb"] for r in frs)
        ften = max(r.get("tensor_peak_mb", 0) for r in frs)
        prss = max(r["peak_rss_mb"] for r in prs)
        # The time the step's matmuls alone take at the bare sgemm rate (same OpenBLAS for
        # both sides): no implementation on this BLAS goes below it.
        floors.append((case, fm, pm, fg * fm / 1e3))
        out.append(f"| {TITLES.get(case, case)} | {fm:.3f} ({fth}) | {pm:.3f} ({pth}) | "
                   f"{ratio:.2f} | {verdict} | {fg:.1f} | {pg:.1f} | {frss:.0f} ({ften:.0f}) / {prss:.0f} |")
    if sgemm:
        out.append("")
        out.append(f"Bare sgemm on the step's big shape reaches {sgemm['flowcpp']:.1f} GFLOP/s "
                   f"(OpenBLAS, as flowcpp calls it) and {sgemm['pytorch']:.1f} GFLOP/s (PyTorch); "
                   "the GFLOP/s columns count only matmul flops, so their ratio to the sgemm rate "
                   "is the fraction of the step spent at sgemm speed.")
        out.append("")
        out.append("The sgemm floor: the matmul work of each case divided by the bare sgemm rate, "
                   "i.e. the time of the matmuls alone if they ran at the speed OpenBLAS reaches "
                   "on its own (both sides call the same OpenBLAS):\n")
        out.append("| case | matmul GFLOP | floor ms | floor / PyTorch | flowcpp / floor |")
        out.append("|---|---|---|---|---|")
        for case, fm, pm, gflop in floors:
            if case.startswith("sgemm"):
                continue
            floor_ms = gflop / sgemm["flowcpp"] * 1e3
            out.append(f"| {case} | {gflop:.3f} | {floor_ms:.3f} | {floor_ms / pm:.2f} | {fm / floor_ms:.2f} |")
    unet_section(out, by, [c for c in UNET_TITLES if c in cases], sgemm.get("flowcpp"))
    paper = os.path.join(os.path.dirname(os.path.abspath(__file__)), "cfm2d_paper.json")
    if os.path.exists(paper):
        c = json.load(open(paper))
        f, p = c["flowcpp"], c["pytorch"]
        out.append("")
        out.append(f"## cfm2d, paper preset, against the PyTorch reference ({c['date']})\n")
        # The first pairs drew flowcpp's earlier side-2 board, not the reference's; pairs
        # on the reference's board carry "density": "checkerboard".
        ref_seeds = [str(q["seed"]) for q in c.get("more_seeds", []) if q.get("density") == "checkerboard"]
        on_ref = (f"; seed {', '.join(ref_seeds)} on the reference's board (side 1/0.45, which `checkerboard` "
                  "and bench/torch_cfm2d.py draw now), listed with its board and not pooled with the others"
                  if ref_seeds else
                  "; a seed pair on the reference's board, side 1/0.45, which `checkerboard` and "
                  "bench/torch_cfm2d.py draw now, is still to be run")
        board = ("checkerboard" if c.get("density", "checkerboard") == "checkerboard" else
                 "**flowcpp's earlier checkerboard** (squares of side 2 over [-4, 4)^2, now "
                 f"`checkerboard-fb`{on_ref})")
        out.append("`bench/compare_cfm2d.sh` (seed 0, 2 threads, timed) and `bench/cfm2d_seed_pair.sh SEED` "
                   "(the other seeds, both sides at 1 thread at the same time, so untimed): both train "
                   f"the reference recipe on {board} (MLP H=512, AdamW lr 1e-3, batch 4096, 20,000 "
                   "iterations) and draw 1,000,000 samples with midpoint steps of 0.05; both sample files "
                   "are scored by the same code against the same truth (`cfm2d --score`: energy distance "
                   "of the first 20,000 samples to 20,000 fresh true ones, and over all 50 such blocks "
                   "of the file with its standard error, lower is better; fraction inside the true "
                   "squares, higher is better). Below the runs: means over the seeds and the paired "
                   "difference, with standard errors over seeds.\n")
        out.append("| | training s | sampling 1M s | energy distance | all points (± se) | in-square fraction |")
        out.append("|---|---|---|---|---|---|")
        pairs = [dict(seed=0, flowcpp=f, pytorch=p)] + c.get("more_seeds", [])
        file_board = c.get("density", "checkerboard")
        for pair in pairs:
            board = pair.get("density", file_board)
            on = "" if board == file_board else f" ({board})"
            for impl, name in (("flowcpp", "flowcpp"), ("pytorch", f"PyTorch {p.get('torch', '')}")):
                r = pair[impl]
                times = (f"{r['train_s']:.0f} | {r['sample_s']:.0f}" if pair["seed"] == 0 else " | ")
                out.append(f"| {name}, seed {pair['seed']}{on} | {times} | {r['energy_distance']:.5f} | "
                           f"{all_points(r)} | {r['in_square_fraction']:.4f} |")
        # Pairs on another board are listed, not pooled with the others.
        out.extend(seed_summary([q for q in pairs if q.get("density", file_board) == file_board]))
        if c.get("note"):
            out.append("")
            out.append(f"Note: {c['note']}.")
    # Summaries kept beside this script, by hand, each from the script that measures it.
    here = os.path.dirname(os.path.abspath(__file__))
    for name in ["rectify_summary.md",          # bench/rectify_all.sh
                 "data_parallel_summary.md",    # bench/data_parallel.sh and the ring model
                 "paths_summary.md",            # bench/paths_2d.sh
                 "fuzz_summary.md",             # scripts/fuzz.sh and the bugs found (issue 18)
                 "image_reflow_summary.md",     # cfm_image --reflow/--distill/--few-step (issue 17)
                 "cuda_emulated_summary.md"]:   # the CUDA backend on the emulated device (issue 15)
        path = os.path.join(here, name)
        if os.path.exists(path):
            out.append("")
            out.append(open(path).read().strip())
    out.append("")
    out.append("All runs (median ms per run):\n")
    out.append("| case | impl | threads | runs |")
    out.append("|---|---|---|---|")
    for (case, impl, th), rs in sorted(by.items()):
        out.append(f"| {case} | {impl} | {th} | {', '.join('%.3f' % r['median_ms'] for r in rs)} |")
    open(dst, "w").write("\n".join(out) + "\n")


def all_points(r):
    """The energy distance over every 20,000-point block of the sample file, where scored."""
    if "energy_distance_all_points" not in r:
        return ""
    return f"{r['energy_distance_all_points']:.5f} ± {r['energy_distance_all_points_se']:.5f}"


def mean_se(values):
    m = statistics.mean(values)
    return m, (statistics.stdev(values) / len(values) ** 0.5 if len(values) > 1 else float("nan"))


def seed_summary(pairs):
    """Means over the seed pairs and the paired difference flowcpp - PyTorch, each with its
    standard error over seeds: the training seed, not the metric, is the noise here."""
    rows = []
    for key, label, lower_better in (("energy_distance_all_points", "energy distance, all points", True),
                                     ("in_square_fraction", "in-square fraction", False)):
        both = [(q["flowcpp"][key], q["pytorch"][key]) for q in pairs
                if key in q["flowcpp"] and key in q["pytorch"]]
        if len(both) < 2:
            continue
        fm, fs = mean_se([a for a, _ in both])
        pm, ps = mean_se([b for _, b in both])
        dm, ds = mean_se([a - b for a, b in both])
        better = sum((a < b) if lower_better else (a > b) for a, b in both)
        digits = 5 if lower_better else 4
        rows.append(f"| {label} | {len(both)} | {fm:.{digits}f} ± {fs:.{digits}f} | {pm:.{digits}f} ± "
                    f"{ps:.{digits}f} | {dm:+.{digits}f} ± {ds:.{digits}f} | {better} of {len(both)} |")
    if not rows:
        return []
    return ["", "| over seeds | pairs | flowcpp mean ± se | PyTorch mean ± se | flowcpp − PyTorch ± se "
            "| flowcpp better in |", "|---|---|---|---|---|---|"] + rows


UNET_TITLES = {
    "unet_train_mnist_32": "training step, 32 channels (the fixture's UNet)",
    "unet_forward_mnist_32": "forward pass, 32 channels",
    "unet_train_mnist_64": "training step, 64 channels (the reference recipe)",
    "unet_forward_mnist_64": "forward pass, 64 channels",
}
UNET_TARGET = 0.5  # time and peak memory, flowcpp / PyTorch


def best_of_threads(by, case, impl):
    """(median ms, threads, rows) at the thread count with the lowest median."""
    opts = []
    for th in (1, 2):
        rs = by.get((case, impl, th))
        if rs:
            opts.append((statistics.median(r["median_ms"] for r in rs), th, rs))
    return min(opts) if opts else None


def unet_section(out, by, cases, sgemm_rate):
    if not cases:
        return
    out.append("")
    out.append("## The image UNet (batch 128, 1x28x28, MNIST's configuration)\n")
    out.append("`bench/bench_unet` against `bench/torch_unet.py` (our PyTorch implementation of the "
               "reference UNet, checked against the fixtures with `--check-fixture`). A training step "
               "is forward, MSE, backward, gradient clipping at 1.0 and AdamW; the forward pass runs "
               "under no-grad. Each run times 3 iterations after one warm-up; each side at its best of "
               "1 and 2 threads. Targets: flowcpp / PyTorch ≤ 0.5 for time and for peak memory "
               "(the process's peak RSS).\n")
    out.append("| case | flowcpp ms (threads) | PyTorch ms (threads) | time ratio | peak RSS flowcpp / "
               "PyTorch MB | memory ratio | targets (≤ 0.5) | matmul GFLOP | flowcpp GFLOP/s | "
               "sgemm floor / PyTorch |")
    out.append("|---|---|---|---|---|---|---|---|---|---|")
    for case in cases:
        f, p = best_of_threads(by, case, "flowcpp"), best_of_threads(by, case, "pytorch")
        if not f or not p:
            continue
        (fm, fth, frs), (pm, pth, prs) = f, p
        frss = max(r["peak_rss_mb"] for r in frs)
        prss = max(r["peak_rss_mb"] for r in prs)
        gflop = statistics.median(r.get("gflop", 0) for r in prs)  # counted by torch_unet.py's hooks
        tr, mr = fm / pm, frss / prss
        met = "time " + ("met" if tr <= UNET_TARGET else "NOT met") + ", memory " + \
              ("met" if mr <= UNET_TARGET else "NOT met")
        # The matmul work at the bare sgemm rate of the MLP table (same OpenBLAS, 2 threads).
        floor = f"{gflop / sgemm_rate * 1e3 / pm:.2f}" if sgemm_rate else "—"
        out.append(f"| {UNET_TITLES.get(case, case)} | {fm:.0f} ({fth}) | {pm:.0f} ({pth}) | {tr:.2f} | "
                   f"{frss:.0f} / {prss:.0f} | {mr:.2f} | {met} | {gflop:.0f} | {gflop / (fm / 1e3):.1f} | "
                   f"{floor} |")
    out.append("")
    out.append("The matmul GFLOP are counted by `torch_unet.py` (convolutions, linears and the two "
               "attention products; training counts three times the forward). The last column is "
               "the time those matmuls alone would take at the bare sgemm rate of the table above "
               "(OpenBLAS on this machine), as a fraction of PyTorch's time: a time target below it "
               "needs fewer flops or a faster sgemm, not less overhead. flowcpp's 3x3 convolutions use "
               "Winograd's algorithm, which does fewer multiplications than counted here, so its "
               "GFLOP/s column is an effective rate and can exceed the bare sgemm's.")
    prof = os.path.join("build", "bench", "unet_profile.md")
    if os.path.exists(prof):
        out.append("")
        out.append("Where flowcpp's time goes in the 64-channel training step (the engine's own "
                   "profiler, `FLOWCPP_PROFILE=1 build/bench/bench_unet --mode train --channels 64 "
                   "--batch 128 --iters 1 --threads 2`; one step after a warm-up):\n")
        out.append(open(prof).read().strip())


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
