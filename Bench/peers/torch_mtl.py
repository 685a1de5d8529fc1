#!/usr/bin/env python3
"""The PyTorch peer for Engine's CPU (and CUDA) benchmarks.

Runs exactly the workloads of Bench/Workloads (see Bench/README.md): multi-task MLPs with a ReLU trunk
and one linear head per task (MSE for regression heads, cross-entropy for classification heads). One
training step = forward, backward, global-norm clip at 1.0 (torch.nn.utils.clip_grad_norm_), Adam step.
Variants: `sum` (one backward of the summed loss) and `pcgrad` (one backward per task over the trunk,
PCGrad on the trunk's gradients in a seeded random order, then clip and Adam).
Also times the kernels under them: GEMM (torch.mm), fused Adam, and a plain copy of the same number of bytes.

Prints one JSON object per line: {"kind": ..., "name": ..., "ms": median milliseconds, ...}.
Usage: python3 torch_mtl.py [--threads 2] [--device cpu|cuda] [--only small,medium] [--repeats 20] [--kernels]
(--only "" --kernels: the kernels alone)
"""
import argparse
import json
import os
import random
import statistics
import time

import torch
import torch.nn as nn
import torch.nn.functional as F

WORKLOADS = {
    # name: (inputs, trunk widths, heads [(kind, outputs)], batch)
    "small": (8, [64, 64], [("reg", 1), ("reg", 1)], 64),
    "medium": (256, [512, 512], [("reg", 1), ("cls", 10), ("cls", 10)], 256),
    "large": (1024, [2048, 2048], [("reg", 1), ("reg", 1), ("cls", 100), ("cls", 100)], 512),
    # medium plus two categorical columns (10,000 and 1,000 values) embedded in 16 dims, and dropout 0.1 (issue #14)
    "medium-embed": (256, [512, 512], [("reg", 1), ("cls", 10), ("cls", 10)], 256),
}
# name: (categories per embedded column, embedding dim, dropout); each table has one more row (the unseen category)
EMBED = {"medium-embed": ([10000, 1000], 16, 0.1)}


class MultiTaskMlp(nn.Module):
    def __init__(self, inputs, widths, heads, categories=(), dim=0, dropout=0.0):
        super().__init__()
        self.embeddings = nn.ModuleList(nn.Embedding(c + 1, dim) for c in categories)
        layers, width = [], inputs + dim * len(categories)
        for w in widths:
            layers += [nn.Linear(width, w), nn.ReLU()] + ([nn.Dropout(dropout)] if dropout > 0 else [])
            width = w
        self.trunk = nn.Sequential(*layers)
        self.heads = nn.ModuleList(nn.Linear(width, out) for _, out in heads)
        self.kinds = [kind for kind, _ in heads]

    def losses(self, x, targets):
        if isinstance(x, tuple):   # (numeric inputs, category indices [batch × columns])
            x = torch.cat([x[0]] + [e(x[1][:, i]) for i, e in enumerate(self.embeddings)], dim=1)
        z = self.trunk(x)
        result = []
        for head, kind, target in zip(self.heads, self.kinds, targets):
            y = head(z)
            result.append(F.mse_loss(y, target) if kind == "reg" else F.cross_entropy(y, target))
        return result


def make(name, device, seed=0):
    inputs, widths, heads, batch = WORKLOADS[name]
    torch.manual_seed(seed)
    categories, dim, dropout = EMBED.get(name, ((), 0, 0.0))
    model = MultiTaskMlp(inputs, widths, heads, categories, dim, dropout).to(device)
    x = torch.randn(batch, inputs, device=device)
    if categories:
        x = (x, torch.stack([torch.randint(0, c, (batch,), device=device) for c in categories], dim=1))
    targets = [torch.randn(batch, out, device=device) if kind == "reg"
               else torch.randint(0, out, (batch,), device=device) for kind, out in heads]
    fused = device == "cuda"
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, **({"fused": True} if fused else {}))
    return model, x, targets, opt


def step_sum(model, x, targets, opt):
    opt.zero_grad(set_to_none=False)
    loss = sum(model.losses(x, targets))
    loss.backward()
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def set_grad(p, g):
    if p.grad is None:
        p.grad = g.detach().clone()
    else:
        p.grad.copy_(g)


def step_pcgrad(model, x, targets, opt, rng):
    opt.zero_grad(set_to_none=False)
    shared = list(model.embeddings.parameters()) + list(model.trunk.parameters())
    losses = model.losses(x, targets)
    task_grads = []
    for i, loss in enumerate(losses):
        head = list(model.heads[i].parameters())
        grads = torch.autograd.grad(loss, shared + head, retain_graph=i < len(losses) - 1)
        task_grads.append(torch.cat([g.reshape(-1) for g in grads[:len(shared)]]))
        for p, g in zip(head, grads[len(shared):]):
            set_grad(p, g)
    originals = torch.stack(task_grads)
    projected = originals.clone()
    for i in range(len(task_grads)):
        order = [j for j in range(len(task_grads)) if j != i]
        rng.shuffle(order)
        for j in order:
            dot = torch.dot(projected[i], originals[j])
            if dot < 0:
                projected[i] -= dot / (originals[j].dot(originals[j]) + 1e-20) * originals[j]
    combined = projected.sum(0)
    offset = 0
    for p in shared:
        n = p.numel()
        set_grad(p, combined[offset:offset + n].view_as(p))
        offset += n
    torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
    opt.step()


def timed(fn, device, repeats, warmup=3):
    return timed_samples(fn, device, repeats, warmup)[0]


def timed_samples(fn, device, repeats, warmup=3):
    """(median, fastest) of `repeats` timed calls after `warmup` untimed ones, in ms."""
    for _ in range(warmup):
        fn()
    if device == "cuda":
        torch.cuda.synchronize()
    samples = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        if device == "cuda":
            torch.cuda.synchronize()
        samples.append((time.perf_counter() - t0) * 1e3)
    return statistics.median(samples), min(samples)


def flops_per_step(name, variant):
    """Multiply-adds ×2 of the GEMMs in one step (forward 1×, backward 2×; the first layer's dX is not needed)."""
    inputs, widths, heads, batch = WORKLOADS[name]
    trunk, width = [], inputs
    for w in widths:
        trunk.append((width, w))
        width = w
    head_layers = [(width, out) for _, out in heads]
    fwd = sum(2 * batch * i * o for i, o in trunk + head_layers)
    bwd_trunk = sum(2 * batch * i * o * 2 for i, o in trunk) - 2 * batch * trunk[0][0] * trunk[0][1]
    bwd_heads = sum(2 * batch * i * o * 2 for i, o in head_layers)
    passes = len(heads) if variant == "pcgrad" else 1
    return fwd + bwd_heads + passes * bwd_trunk


def loaded_blas():
    """The BLAS shared library this process actually mapped. Debian's torch is built against the generic
    libblas.so.3 interface (BLAS_INFO=generic) and calls whatever update-alternatives points that at: the
    reference BLAS by default, OpenBLAS once libopenblas0-pthread is installed."""
    try:
        with open("/proc/self/maps") as maps:
            paths = {line.split()[-1] for line in maps if "blas" in line.lower() and "/" in line}
    except OSError:
        return ""
    return " (loaded: " + ", ".join(sorted(os.path.realpath(p) for p in paths)) + ")" if paths else ""


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--device", default="cpu")
    parser.add_argument("--only", default="small,medium,large")
    parser.add_argument("--repeats", type=int, default=20)
    parser.add_argument("--kernels", action="store_true", help="also time GEMM, Adam and copy")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    if args.device == "cuda":
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    config = torch.__config__.show()
    blas = next((part.split("=", 1)[1] for part in config.replace(",", " ").split() if part.startswith("BLAS_INFO=")), "unknown")
    if args.device == "cpu":
        torch.mm(torch.ones(8, 8), torch.ones(8, 8))  # loads the BLAS library, so the line below can name it
    meta = {"kind": "meta", "torch": torch.__version__, "threads": torch.get_num_threads(), "device": args.device,
            "blas": "BLAS_INFO=" + blas + loaded_blas(),
            "gpu": "GPU: " + (torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no CUDA device") + f", CUDA {torch.version.cuda}"}
    print(json.dumps(meta), flush=True)

    for name in filter(None, args.only.split(",")):
        for variant in ("sum", "pcgrad"):
            model, x, targets, opt = make(name, args.device)
            rng = random.Random(0)
            fn = (lambda: step_sum(model, x, targets, opt)) if variant == "sum" else \
                 (lambda: step_pcgrad(model, x, targets, opt, rng))
            repeats = args.repeats if name != "large" else max(5, args.repeats // 4)
            ms = timed(fn, args.device, repeats)
            print(json.dumps({"kind": "step", "name": name, "variant": variant, "ms": ms,
                              "gflop": flops_per_step(name, variant) / 1e9}), flush=True)

    if args.kernels:
        # The GEMMs of the large workload's trunk layers, with the transposes a dense layer uses
        # (forward Y = X·Wᵀ: NT; input gradient dX = dY·W: NN; weight gradient dW = dYᵀ·X: TN), and 1024³.
        shapes = [("1024^3 NN", 1024, 1024, 1024, False, False),
                  ("large.l1.fwd NT", 512, 2048, 1024, False, True),
                  ("large.l1.dW TN", 2048, 1024, 512, True, False),
                  ("large.l2.fwd NT", 512, 2048, 2048, False, True),
                  ("large.l2.dX NN", 512, 2048, 2048, False, False),
                  ("large.l2.dW TN", 2048, 2048, 512, True, False)]
        for label, m, n, k, ta, tb in shapes:
            a = torch.randn(k, m, device=args.device) if ta else torch.randn(m, k, device=args.device)
            b = torch.randn(n, k, device=args.device) if tb else torch.randn(k, n, device=args.device)
            a_op, b_op = (a.t() if ta else a), (b.t() if tb else b)
            ms, min_ms = timed_samples(lambda: torch.mm(a_op, b_op), args.device, max(5, args.repeats // 2))
            print(json.dumps({"kind": "gemm", "name": label, "ms": ms, "min_ms": min_ms,
                              "gflops": 2 * m * n * k / ms / 1e6}), flush=True)
        for count in (1_000_000, 10_000_000):
            p = torch.zeros(count, device=args.device, requires_grad=True)
            p.grad = torch.randn(count, device=args.device)
            opt = torch.optim.Adam([p], lr=1e-3, **({"fused": True} if args.device == "cuda" else {}))
            ms = timed(opt.step, args.device, 10)
            # A copy of the same bytes: Adam moves 28 per parameter (θ, g, m, v in; θ, m, v out), so copy 3.5·count floats.
            src = torch.randn(count // 2 * 7, device=args.device)
            dst = torch.empty_like(src)
            copy_ms = timed(lambda: dst.copy_(src), args.device, 10)
            print(json.dumps({"kind": "adam", "name": f"{count}", "ms": ms, "copy_ms": copy_ms,
                              "adam_gbs": 28 * count / ms / 1e6, "copy_gbs": 28 * count / copy_ms / 1e6}), flush=True)


if __name__ == "__main__":
    main()
