"""PyTorch side of the UNet benchmark (the reference's class-conditional UNet).

The model is guided-diffusion's UNetModel as the reference uses it: no scale-shift norm,
conv resampling, legacy attention order, one head, GroupNorm(32) + SiLU. The recipe is the
reference's: batch 128, AdamW lr 1e-3, gradient clipping at 1.0, MSE to a target.

  --check-fixture PATH   load a fixture from tests/fixtures (weights + batch), run
                         forward + backward in eval mode and print the relative errors of
                         the output, loss, input gradient and every parameter gradient.
  (default, or --bench)  time one training step (--mode train) or one no-grad forward
                         (--mode forward) on random data; prints one JSON line on stdout,
                         progress on stderr. One mode per process, so peak RSS is per case.
"""
import argparse, json, math, os, resource, statistics, struct, sys, time

import torch
import torch.nn as nn
import torch.nn.functional as F

DATASETS = {"mnist": ((1, 28, 28), (1, 2, 2)), "cifar": ((3, 32, 32), (1, 2, 2, 2))}


def log(*a):
    print(*a, file=sys.stderr, flush=True)


def timestep_embedding(t, dim, max_period=10000):
    half = dim // 2
    freqs = torch.exp(-math.log(max_period) * torch.arange(half, dtype=torch.float32) / half)
    args = t[:, None].float() * freqs[None]
    emb = torch.cat([torch.cos(args), torch.sin(args)], dim=-1)
    if dim % 2:
        emb = torch.cat([emb, torch.zeros_like(emb[:, :1])], dim=-1)
    return emb


def norm(ch):
    return nn.GroupNorm(32, ch, eps=1e-5)


class ResBlock(nn.Module):
    def __init__(self, ch, out_ch, emb_ch, dropout):
        super().__init__()
        self.in_layers = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, out_ch, 3, padding=1))
        self.emb_layers = nn.Sequential(nn.SiLU(), nn.Linear(emb_ch, out_ch))
        self.out_layers = nn.Sequential(norm(out_ch), nn.SiLU(), nn.Dropout(dropout),
                                        nn.Conv2d(out_ch, out_ch, 3, padding=1))
        self.skip_connection = nn.Identity() if ch == out_ch else nn.Conv2d(ch, out_ch, 1)

    def forward(self, x, emb):
        h = self.in_layers(x) + self.emb_layers(emb)[:, :, None, None]
        return self.skip_connection(x) + self.out_layers(h)


class AttentionBlock(nn.Module):
    """Self-attention over the H*W positions, one head, legacy q/k/v split."""

    def __init__(self, ch):
        super().__init__()
        self.norm = norm(ch)
        self.qkv = nn.Conv1d(ch, 3 * ch, 1)
        self.proj_out = nn.Conv1d(ch, ch, 1)

    def forward(self, x):
        b, c, hh, ww = x.shape
        x = x.reshape(b, c, hh * ww)
        q, k, v = self.qkv(self.norm(x)).split(c, dim=1)
        scale = 1 / math.sqrt(math.sqrt(c))
        w = torch.softmax(torch.bmm((q * scale).transpose(1, 2), k * scale), dim=-1)  # [b,t,s]
        a = torch.bmm(v, w.transpose(1, 2))  # a[b,c,t] = sum_s v[b,c,s] w[b,t,s]
        return (x + self.proj_out(a)).reshape(b, c, hh, ww)


class Downsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.op = nn.Conv2d(ch, ch, 3, stride=2, padding=1)

    def forward(self, x):
        return self.op(x)


class Upsample(nn.Module):
    def __init__(self, ch):
        super().__init__()
        self.conv = nn.Conv2d(ch, ch, 3, padding=1)

    def forward(self, x):
        return self.conv(F.interpolate(x, scale_factor=2, mode="nearest"))


class Block(nn.Sequential):
    """A sequence of layers; ResBlocks get the embedding, the others only x."""

    def forward(self, x, emb):
        for m in self:
            x = m(x, emb) if isinstance(m, ResBlock) else m(x)
        return x


class UNet(nn.Module):
    def __init__(self, in_ch, image_size, mc, channel_mult, num_res_blocks=2, attn_ds=None,
                 num_classes=10, dropout=0.0):
        super().__init__()
        attn_ds = {image_size // 16} if attn_ds is None else set(attn_ds)
        self.mc = mc
        E = 4 * mc
        self.time_embed = nn.Sequential(nn.Linear(mc, E), nn.SiLU(), nn.Linear(E, E))
        self.label_emb = nn.Embedding(num_classes, E) if num_classes else None
        self.input_blocks = nn.ModuleList([Block(nn.Conv2d(in_ch, mc, 3, padding=1))])
        skips, ch, ds = [mc], mc, 1
        for level, mult in enumerate(channel_mult):
            for _ in range(num_res_blocks):
                layers = [ResBlock(ch, mult * mc, E, dropout)]
                ch = mult * mc
                if ds in attn_ds:
                    layers.append(AttentionBlock(ch))
                self.input_blocks.append(Block(*layers))
                skips.append(ch)
            if level != len(channel_mult) - 1:
                self.input_blocks.append(Block(Downsample(ch)))
                skips.append(ch)
                ds *= 2
        self.middle_block = Block(ResBlock(ch, ch, E, dropout), AttentionBlock(ch),
                                  ResBlock(ch, ch, E, dropout))
        self.output_blocks = nn.ModuleList()
        for level, mult in reversed(list(enumerate(channel_mult))):
            for i in range(num_res_blocks + 1):
                layers = [ResBlock(ch + skips.pop(), mc * mult, E, dropout)]
                ch = mc * mult
                if ds in attn_ds:
                    layers.append(AttentionBlock(ch))
                if level and i == num_res_blocks:
                    layers.append(Upsample(ch))
                    ds //= 2
                self.output_blocks.append(Block(*layers))
        self.out = nn.Sequential(norm(ch), nn.SiLU(), nn.Conv2d(ch, in_ch, 3, padding=1))

    def forward(self, t, x, y=None):
        emb = self.time_embed(timestep_embedding(t, self.mc))
        if self.label_emb is not None:
            emb = emb + self.label_emb(y)
        hs, h = [], x
        for m in self.input_blocks:
            h = m(h, emb)
            hs.append(h)
        h = self.middle_block(h, emb)
        for m in self.output_blocks:
            h = m(torch.cat([h, hs.pop()], dim=1), emb)
        return self.out(h)


def read_safetensors(path):
    try:
        with open(path, "rb") as f:
            n = struct.unpack("<Q", f.read(8))[0]
            if n > os.path.getsize(path) - 8:
                raise ValueError(f"header length {n} exceeds the file")
            header = json.loads(f.read(n))
            data = f.read()
    except (OSError, struct.error, ValueError) as e:
        raise SystemExit(f"{path}: not a readable safetensors file ({e})")
    meta = header.pop("__metadata__", {})
    out = {}
    for name, h in header.items():
        if h["dtype"] != "F32":
            raise SystemExit(f"{path}: {name}: dtype {h['dtype']}, only F32 is supported")
        a, b = h["data_offsets"]
        out[name] = torch.frombuffer(bytearray(data[a:b]), dtype=torch.float32).reshape(h["shape"])
    return meta, out


def rel_err(a, b):
    return ((a - b).norm() / b.norm().clamp_min(1e-30)).item()


def check_fixture(path):
    meta, ts = read_safetensors(path)
    shape = tuple(int(s) for s in meta["image_shape"].split(","))
    mult = tuple(int(s) for s in meta["channel_mult"].split(","))
    assert int(meta.get("num_heads", 1)) == 1, "only one attention head is implemented"
    attn = {shape[1] // int(r) for r in meta["attention_resolutions"].split(",")}
    net = UNet(shape[0], shape[1], int(meta["model_channels"]), mult,
               int(meta["num_res_blocks"]), attn, int(meta["num_classes"]), float(meta["dropout"]))
    params = dict(net.named_parameters())
    net.load_state_dict({k: ts[k] for k in params}, strict=True)
    n = sum(p.numel() for p in params.values())
    net.eval()
    x = ts["input.x"].clone().requires_grad_(True)
    v = net(ts["input.t"], x, ts["input.y"].long())
    loss = ((v - ts["input.target"]) ** 2).mean()
    loss.backward()
    errs = {"output.v": rel_err(v.detach(), ts["output.v"]),
            "output.loss": rel_err(loss.detach().reshape(1), ts["output.loss"]),
            "grad.input.x": rel_err(x.grad, ts["grad.input.x"])}
    # Several gradients are zero in exact arithmetic (a per-channel bias or embedding added
    # just before a GroupNorm with one channel per group cancels out); both sides hold only
    # rounding noise there (~1e-8), so those are judged against the whole gradient's norm.
    g_all = math.sqrt(sum(ts["grad." + k].norm().item() ** 2 for k in params))
    d_all = math.sqrt(sum((p.grad - ts["grad." + k]).norm().item() ** 2 for k, p in params.items()))
    worst, worst_name, tiny, tiny_worst = 0.0, "", 0, 0.0
    for k, p in params.items():
        ref = ts["grad." + k]
        if ref.norm().item() < 1e-6 * g_all:
            tiny += 1
            tiny_worst = max(tiny_worst, (p.grad - ref).norm().item() / g_all)
            continue
        e = rel_err(p.grad, ref)
        if e >= worst:
            worst, worst_name = e, k
    print(f"{path}: {meta['image_shape']} mc={meta['model_channels']} mult={meta['channel_mult']} "
          f"params {n} (fixture says {meta.get('params', '?')}), {len(params)} tensors loaded")
    for k, e in errs.items():
        print(f"  {k:14s} rel err {e:.3e}")
    print(f"  all param grads together rel err {d_all / g_all:.3e}")
    print(f"  worst param grad rel err {worst:.3e} ({worst_name}), over {len(params) - tiny} grads")
    print(f"  {tiny} grads below 1e-6 of the total norm (exactly zero in exact arithmetic): "
          f"worst |diff| / |total grad| {tiny_worst:.3e}")
    ok = (max(list(errs.values()) + [worst, d_all / g_all, tiny_worst]) < 1e-4
          and str(n) == meta.get("params", str(n)))
    print("  OK" if ok else "  MISMATCH")
    return ok


def matmul_flops(net, in_shape):
    """Multiply-add flops (x2) of the convs, linears and attention matmuls of one sample's
    forward pass, counted by hooks on a batch-1 run."""
    total = [0]

    def conv_hook(m, i, o):
        k = m.weight[0].numel()  # in/groups * kernel
        total[0] += 2 * o.numel() * k

    def attn_hook(m, i, o):
        b, c, hh, ww = i[0].shape
        total[0] += 2 * 2 * b * (hh * ww) ** 2 * c

    hooks = []
    for m in net.modules():
        if isinstance(m, (nn.Conv1d, nn.Conv2d, nn.Linear)):
            hooks.append(m.register_forward_hook(conv_hook))
        elif isinstance(m, AttentionBlock):
            hooks.append(m.register_forward_hook(attn_hook))
    with torch.no_grad():
        net(torch.rand(1), torch.randn(1, *in_shape), torch.zeros(1, dtype=torch.long))
    for h in hooks:
        h.remove()
    return total[0]


def bench(a):
    torch.manual_seed(0)
    in_shape, mult = DATASETS[a.dataset]
    B = a.batch
    net = UNet(in_shape[0], in_shape[1], a.channels, mult, dropout=0.0)
    n_params = sum(p.numel() for p in net.parameters())
    flop = matmul_flops(net, in_shape) * B
    dev = a.device
    net = net.to(dev)
    sync = torch.cuda.synchronize if dev == "cuda" else (lambda: None)
    x = torch.randn(B, *in_shape, device=dev)
    t = torch.rand(B, device=dev)
    y = torch.randint(0, 10, (B,), device=dev)
    target = torch.randn(B, *in_shape, device=dev)

    if a.mode == "train":
        net.train()
        opt = torch.optim.AdamW(net.parameters(), lr=1e-3)

        def step():
            opt.zero_grad(set_to_none=True)
            loss = ((net(t, x, y) - target) ** 2).mean()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(net.parameters(), 1.0)
            opt.step()
        flop *= 3  # forward + the two backward matmuls per layer
    else:
        net.eval()

        def step():
            with torch.no_grad():
                net(t, x, y)

    log(f"torch_unet: {a.mode} {a.dataset} channels={a.channels} batch={B} "
        f"threads={a.threads} params={n_params}")
    ms = []
    if dev == "cuda":
        torch.cuda.reset_peak_memory_stats()
    for i in range(a.warmup + a.repeats):
        sync()
        t0 = time.perf_counter()
        step()
        sync()
        dt = (time.perf_counter() - t0) * 1e3
        if i >= a.warmup:
            ms.append(dt)
        log(f"  {'warmup' if i < a.warmup else 'run'} {i + 1}/{a.warmup + a.repeats}: {dt:.1f} ms")
    med = statistics.median(ms)
    key = "step" if a.mode == "train" else "forward"
    print(json.dumps({
        "impl": "pytorch", "device": dev, "mode": a.mode, "dataset": a.dataset, "channels": a.channels,
        "device_peak_mb": torch.cuda.max_memory_allocated() / 1048576.0 if dev == "cuda" else 0.0,
        "batch": B, "threads": a.threads, "params": n_params,
        "median_ms": med, "times_ms": ms, f"{key}_ms": med, f"{key}_all": ms,
        "gflops": flop / (med / 1e3) / 1e9, "gflop": flop / 1e9,
        "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0,
        "torch": torch.__version__}), flush=True)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--check-fixture", metavar="PATH", action="append",
                   help="fixture .safetensors to check against (may repeat)")
    p.add_argument("--bench", action="store_true", help="benchmark mode (the default)")
    p.add_argument("--mode", default="train", choices=["train", "forward"])
    p.add_argument("--channels", type=int, default=64)
    p.add_argument("--dataset", default="mnist", choices=sorted(DATASETS))
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--repeats", "--iters", dest="repeats", type=int, default=3)
    p.add_argument("--warmup", type=int, default=1)
    p.add_argument("--threads", type=int, default=1)
    p.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    a = p.parse_args()
    if a.channels % 32:
        p.error("--channels must be a multiple of 32 (GroupNorm(32))")
    if a.batch < 1 or a.repeats < 1 or a.warmup < 0 or a.threads < 1:
        p.error("--batch, --repeats and --threads must be >= 1, --warmup >= 0")
    torch.set_num_threads(a.threads)
    if a.check_fixture:
        ok = all([check_fixture(f) for f in a.check_fixture])
        sys.exit(0 if ok else 1)
    bench(a)


if __name__ == "__main__":
    main()
