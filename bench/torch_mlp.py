"""PyTorch side of `make bench`: the same recipe as bench/bench_mlp.cpp (the reference
project's 2-D CFM step: checkerboard batch, MLP [x_t, t] -> H -> H -> H -> 2 with SiLU,
MSE to x1 - x0, AdamW lr 1e-3), the forward alone, sampling (--batch points, midpoint,
--steps steps) or sgemm, on --device cpu or cuda. Prints one JSON line."""
import argparse, json, resource, statistics, time

import torch


def checkerboard(n, device="cpu"):
    """The reference's checkerboard (flow_matching/datasets/synthetic_datasets.py): squares
    of side 1 / 0.45 over [-4.44, 4.44)^2, as flowcpp's `checkerboard`."""
    x1 = torch.rand(n, device=device) * 4 - 2
    x2 = torch.rand(n, device=device) - torch.randint(high=2, size=(n,), device=device) * 2
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
    p.add_argument("--mode", default="train", choices=["train", "forward", "sample", "sgemm"])
    p.add_argument("--steps", type=int, default=20)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--iters", type=int, default=20)
    p.add_argument("--warmup", type=int, default=3)
    p.add_argument("--threads", type=int, default=1)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    H, B, dev = a.hidden, a.batch, a.device
    net = velocity_mlp(H).to(dev)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

    if a.mode == "train":
        def step():
            x1 = checkerboard(B, dev)
            x0 = torch.randn(B, 2, device=dev)
            t = torch.rand(B, 1, device=dev)
            xt = (1 - t) * x0 + t * x1
            loss = ((net(torch.cat([xt, t], 1)) - (x1 - x0)) ** 2).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        flop = 3 * 2.0 * B * (3 * H + 2 * H * H + H * 2)
    elif a.mode == "forward":
        x = torch.randn(B, 3, device=dev)

        def step():
            with torch.no_grad():
                net(x)
        flop = 2.0 * B * (3 * H + 2 * H * H + H * 2)
    elif a.mode == "sample":
        # The reference's sampler: midpoint steps of v([x, t]) from t = 0 to 1.
        h = 1.0 / a.steps

        def v(x, t):
            return net(torch.cat([x, torch.full((x.shape[0], 1), t, device=dev)], 1))

        def step():
            with torch.no_grad():
                x = torch.randn(B, 2, device=dev)
                for i in range(a.steps):
                    t = i * h
                    x = x + h * v(x + 0.5 * h * v(x, t), t + 0.5 * h)
        flop = 2.0 * a.steps * 2.0 * B * (3 * H + 2 * H * H + H * 2)
    else:
        m, w = torch.randn(B, H, device=dev), torch.randn(H, H, device=dev)

        def step():
            m @ w.t()
        flop = 2.0 * B * H * H

    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for _ in range(a.warmup):
        step()
    sync()
    ms = []
    for _ in range(a.iters):
        t0 = time.perf_counter()
        step()
        sync()
        ms.append((time.perf_counter() - t0) * 1e3)
    med = statistics.median(ms)
    print(json.dumps({
        "impl": "pytorch", "device": dev, "mode": a.mode,
        "device_peak_mb": torch.cuda.max_memory_allocated() / 1048576.0 if dev == "cuda" else 0.0, "batch": B, "hidden": H, "threads": a.threads,
        "median_ms": med, "gflops": flop / (med / 1e3) / 1e9,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "times_ms": ms, "torch": torch.__version__}))


if __name__ == "__main__":
    main()
