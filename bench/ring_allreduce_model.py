#!/usr/bin/env python3
"""Scaling on paper: a ring all-reduce cost model for data-parallel training.

    allreduce(N) = 2 (N - 1) alpha + 2 (N - 1) / N * bytes / bandwidth

(a ring takes 2 (N - 1) steps, each one message latency alpha, and every rank sends
and receives 2 (N - 1) / N of the buffer). A step is the compute c plus the
all-reduce; with the all-reduce overlapped with backward (buckets launched as backward
produces them, as PyTorch DDP does), backward's share of c (taken as 2/3) hides it:

    no overlap: T = c + allreduce(N)
    overlap:    T = c + max(0, allreduce(N) - 2/3 c)

The scaling efficiency is the ideal step over T: weak scaling (a fixed batch per rank:
the compute c does not change with N, ideal = c) and strong scaling (a fixed global
batch: c(N) = c(1) / N at best, ideal = c(1) / N). Prints markdown tables for
bench/RESULTS.md.

    python3 bench/ring_allreduce_model.py [--params 6.2e6] [--gpu-step-ms 50] [--cpu-step-ms C]
"""
import argparse

NETWORKS = [  # name, bandwidth in bytes/s, per-message latency in s
    ("100 Gb/s Ethernet", 100e9 / 8, 10e-6),
    ("400 Gb/s InfiniBand / NVLink", 400e9 / 8, 2e-6),
]
RANKS = [2, 4, 8, 16, 32, 64, 128, 256, 512, 1024]


def allreduce_s(n, nbytes, bandwidth, latency):
    return 2 * (n - 1) * latency + 2 * (n - 1) / n * nbytes / bandwidth


def table(title, step_s, nbytes, strong):
    """step_s(n): the compute of one step with n ranks."""
    print(f"\n{title}\n")
    print("| ranks | compute | " + " | ".join(f"{name}: all-reduce / step / efficiency, no overlap / with overlap"
                                            for name, _, _ in NETWORKS) + " |")
    print("|---|---|" + "---|" * len(NETWORKS))
    for n in RANKS:
        if strong and n > strong:
            continue
        c = step_s(n)
        ideal = step_s(1) / n if strong else c  # what perfect scaling would take
        cells = []
        for _, bw, lat in NETWORKS:
            a = allreduce_s(n, nbytes, bw, lat)
            t_plain = c + a
            t_overlap = c + max(0.0, a - 2.0 / 3.0 * c)
            cells.append(f"{a * 1e3:.3g} ms / {t_plain * 1e3:.4g} ms / "
                         f"{ideal / t_plain:.0%}, {ideal / t_overlap:.0%}")
        print(f"| {n} | {c * 1e3:.4g} ms | " + " | ".join(cells) + " |")


def main():
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--params", type=float, default=6.2e6, help="parameters (float32 gradients)")
    p.add_argument("--gpu-step-ms", type=float, default=50.0,
                   help="compute of one step on a GPU-class rank (an assumption, not a measurement)")
    p.add_argument("--cpu-step-ms", type=float, default=0.0,
                   help="compute of one step on a CPU rank (measured on this machine)")
    p.add_argument("--global-batch", type=int, default=128, help="the paper recipe's batch")
    a = p.parse_args()
    nbytes = 4 * a.params
    print(f"gradient buffer {nbytes / 1e6:.1f} MB ({a.params / 1e6:.2f}M float32 parameters)")
    for name, bw, lat in NETWORKS:
        print(f"- {name}: bandwidth {bw / 1e9:.1f} GB/s, latency {lat * 1e6:.0f} us; the all-reduce tends to "
              f"{2 * nbytes / bw * 1e3:.2f} ms of bandwidth plus 2 (N - 1) x {lat * 1e6:.0f} us of latency")
    gpu, cpu, batch = a.gpu_step_ms * 1e-3, a.cpu_step_ms * 1e-3, a.global_batch
    table(f"Weak scaling: {batch} images per rank, a GPU-class rank computing a step in {a.gpu_step_ms:g} ms "
          "(an assumption)", lambda n: gpu, nbytes, 0)
    table(f"Strong scaling: global batch {batch} split over the ranks, {a.gpu_step_ms:g} ms on one GPU-class rank",
          lambda n: gpu / n, nbytes, batch)
    if cpu > 0:
        table(f"Strong scaling: global batch {batch}, CPU ranks like this machine's ({a.cpu_step_ms:g} ms "
              "per step on one, measured)", lambda n: cpu / n, nbytes, batch)

if __name__ == "__main__":
    main()
