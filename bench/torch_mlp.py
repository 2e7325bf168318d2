"""PyTorch side of `make bench`: the same recipe as bench/bench_mlp.cpp (the reference
project's 2-D CFM step: checkerboard batch, MLP [x_t, t] -> H -> H -> H -> 2 with SiLU,
MSE to x1 - x0, AdamW lr 1e-3), the forward alone, or sgemm. Prints one JSON line."""
import argparse, json, resource, statistics, time

import torch


def checkerboard(n):
    """The reference's checkerboard (flow_matching/datasets/synthetic_datasets.py): squares
    of side 1 / 0.45 over [-4.44, 4.44)^2, as flowcpp's `checkerboard`."""
    x1 = torch.rand(n) * 4 - 2
    x2 = torch.rand(n) - torch.randint(high=2, size=(n,)) * 2
    x2 = x2 + (torch.floor(x1) % 2)
    return torch.stack([x1, x2], 1) / 0.45


def velocity_mlp(hidden):
    """The reference's velocity network [x, t] -> H -> H -> H -> 2 with SiLU."""
    H = hidden
    return torch.nn.Sequential(
        torch.nn.Linear(3, H), torch.nn.SiLU(), torch.nn.Linear(H, H), torch.nn.SiLU(),
        torch.nn.Linear(H, H), torch.nn.SiLU(), torch.nn.Linear(H, 2))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--mode", default="train", choices=["train", "forward", "sgemm"])
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    H, B = a.hidden, a.batch
    net = velocity_mlp(H)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    if a.mode == "train":
        def step():
            x1 = checkerboard(B)
            x0 = torch.randn(B, 2)
            t = torch.rand(B, 1)
            xt = (1 - t) * x0 + t * x1
            loss = ((net(torch.cat([xt, t], 1)) - (x1 - x0)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        flop = 3 * 2.0 * B * (3 * H + 2 * H * H + H * 2)
    elif a.mode == "forward":
        x = torch.randn(B, 3)

        def step():
            with torch.no_grad():
                net(x)
        flop = 2.0 * B * (3 * H + 2 * H * H + H * 2)
    else:
        m, w = torch.randn(B, H), torch.randn(H, H)

        def step():
            m @ w.t()
        flop = 2.0 * B * H * H

    for _ in range(a.warmup):
        step()
    ms = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        ms.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(ms)
    print(json.dumps({
        "impl": "pytorch", "mode": a.mode, "batch": B, "hidden": H, "threads": a.threads,
        "median_ms": med, "gflops": flop / (med / 1e3) / 1e9,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "times_ms": ms, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
