"""The PyTorch reference of `cfm2d --preset paper`, for the side-by-side comparison in
bench/RESULTS.md: the reference project's 2-D CFM recipe (MLP [x, t] -> 512 -> 512 ->
512 -> 2 with SiLU, AdamW lr 1e-3, batch 4096, 20,000 iterations, x0 ~ N(0, I),
t ~ U(0, 1), sigma_min = 0, MSE to x1 - x0), then 1,000,000 samples with midpoint steps
of 0.05. Writes samples.npy and a JSON line with the wall times; score the samples with
`./apps/cfm2d checkerboard --score FILE` (the same metric as flowcpp's own run).
Usage: /usr/bin/python3 bench/torch_cfm2d.py OUT_DIR [--iterations N] [--threads T]"""
import argparse, json, os, time

import numpy as np
import torch

from torch_mlp import checkerboard, velocity_mlp


def main():
    p = argparse.ArgumentParser()
    p.add_argument("out")
    p.add_argument("--iterations", type=int, default=20000)
    p.add_argument("--batch", type=int, default=4096)
    p.add_argument("--hidden", type=int, default=512)
    p.add_argument("--samples", type=int, default=1000000)
    p.add_argument("--threads", type=int, default=2)
    p.add_argument("--seed", type=int, default=0)
    a = p.parse_args()
    torch.set_num_threads(a.threads)
    torch.manual_seed(a.seed)
    os.makedirs(a.out, exist_ok=True)
    net = velocity_mlp(a.hidden)
    opt = torch.optim.AdamW(net.parameters(), lr=1e-3)
    t0 = time.perf_counter()
    losses = []
    for it in range(a.iterations):
        x1 = checkerboard(a.batch)
        x0 = torch.randn(a.batch, 2)
        t = torch.rand(a.batch, 1)
        xt = (1 - t) * x0 + t * x1
        loss = ((net(torch.cat([xt, t], 1)) - (x1 - x0)) ** 2).mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
        if (it + 1) % 1000 == 0:
            print(f"iteration {it + 1}: loss {np.mean(losses[-1000:]):.4f}", flush=True)
    t_train = time.perf_counter() - t0

    t1 = time.perf_counter()
    out = []
    with torch.no_grad():
        for start in range(0, a.samples, 65536):
            x = torch.randn(min(65536, a.samples - start), 2)
            h = 0.05
            for k in range(20):  # midpoint, the reference's sampler
                tt = torch.full((x.shape[0], 1), k * h)
                v1 = net(torch.cat([x, tt], 1))
                xm = x + 0.5 * h * v1
                v2 = net(torch.cat([xm, tt + 0.5 * h], 1))
                x = x + h * v2
            out.append(x)
    samples = torch.cat(out).numpy().astype(np.float32)
    t_sample = time.perf_counter() - t1
    np.save(os.path.join(a.out, "samples.npy"), samples)
    print(json.dumps({"impl": "pytorch", "torch": torch.__version__, "threads": a.threads,
                      "iterations": a.iterations, "train_s": t_train, "sample_s": t_sample,
                      "final_loss_avg1000": float(np.mean(losses[-1000:]))}))


if __name__ == "__main__":
    main()
