#!/usr/bin/env python3
"""The PyTorch peer of `Engine.Bench gpu gemm|adam|gram` (Bench/Gpu/): the same kernels, timed the same way.

Timer (timed_blocks, as Bench/Gpu/BlockTimer.cs): two calls, warm-up for --warmup-ms, then --repeats blocks of
back-to-back calls with one torch.cuda.synchronize() at the end of each block, each block lasting about --block-ms;
per-call time = block time / calls; the median block is reported (and the fastest).

  gemm:  torch.mm at --size^3 NN and on the large workload's layer shapes (each dimension // --scale), TF32 off; then
         the experts of an MMoE layer, torch.baddbmm + relu_ over 8 experts (GpuGemm.BatchedShape).
  adam:  torch.optim.Adam(fused=True) over N parameters in 8 tensors, clip_grad_norm_(1.0) + that step,
         and a copy of 3.5*N floats (the 28*N bytes Adam moves). fused=True needs CUDA (and torch >= 1.13): on the
         CPU (a dry run) the plain Adam runs and the meta line says so.
  gram:  G @ G.T for G [T, N]; the projection combination (every task made orthogonal to task 0, then summed with
         weights 1), computed from that Gram matrix on the device, then c @ G.

Prints JSON lines: first {"kind": "meta", ...} saying which torch, device and GPU it found, then one per result.
Usage: torch_gpu_kernels.py --part gemm|adam|gram [--device cuda|cpu] [--threads N] [--repeats 5] [--block-ms 20]
       [--warmup-ms 500] [--size 4096] [--scale 1] [--params 10000000,100000000] [--tasks 4]
"""
import argparse
import json
import statistics
import sys
import time

import torch

TENSORS = 8  # Bench/Gpu/GpuAdam.cs, Tensors
LAYER_SHAPES = [  # Bench/Compare/KernelComparison.cs, Shapes: (name, m, n, k, transA, transB)
    ("1024^3 NN", 1024, 1024, 1024, False, False),
    ("large.l1.fwd NT", 512, 2048, 1024, False, True),
    ("large.l1.dW TN", 2048, 1024, 512, True, False),
    ("large.l2.fwd NT", 512, 2048, 2048, False, True),
    ("large.l2.dX NN", 512, 2048, 2048, False, False),
    ("large.l2.dW TN", 2048, 2048, 512, True, False),
]


def sync(device):
    if device == "cuda":
        torch.cuda.synchronize()


def timed_blocks(fn, device, args):
    fn()
    fn()
    sync(device)
    start, warm_calls = time.perf_counter(), 0
    while True:
        fn()
        sync(device)
        warm_calls += 1
        if (time.perf_counter() - start) * 1e3 >= args.warmup_ms:
            break
    per_call = (time.perf_counter() - start) * 1e3 / warm_calls
    calls = int(min(max(-(-args.block_ms // max(per_call, 1e-4)), 1), 10_000))
    samples = []
    for _ in range(args.repeats):
        t0 = time.perf_counter()
        for _ in range(calls):
            fn()
        sync(device)
        samples.append((time.perf_counter() - t0) * 1e3 / calls)
    return statistics.median(samples), min(samples)


def emit(**record):
    print(json.dumps(record), flush=True)


def gemm(args, dev):
    shapes = [(f"{args.size}^3 NN", args.size, args.size, args.size, False, False)]
    shapes += [(name, max(1, m // args.scale), max(1, n // args.scale), max(1, k // args.scale), ta, tb)
               for name, m, n, k, ta, tb in LAYER_SHAPES]
    for name, m, n, k, ta, tb in shapes:
        a = torch.randn(k, m, device=dev).t() if ta else torch.randn(m, k, device=dev)
        b = torch.randn(n, k, device=dev).t() if tb else torch.randn(k, n, device=dev)
        out = torch.empty(m, n, device=dev)
        ms, min_ms = timed_blocks(lambda: torch.mm(a, b, out=out), dev, args)
        emit(kind="gemm", name=name, ms=ms, min_ms=min_ms, gflops=2 * m * n * k / ms / 1e6)
    # The experts of an MMoE layer (GpuGemm.BatchedShape): Y_e = relu(X W_e^T + b_e), X shared by the 8 experts.
    experts, m = 8, args.size
    n = k = max(4, args.size // 8 // 4 * 4)
    x = torch.randn(m, k, device=dev)
    w = torch.randn(experts, n, k, device=dev)
    bias = torch.randn(experts, 1, n, device=dev)
    out = torch.empty(experts, m, n, device=dev)

    def experts_layer():
        torch.baddbmm(bias, x.expand(experts, m, k), w.transpose(1, 2), out=out)
        out.relu_()
    ms, min_ms = timed_blocks(experts_layer, dev, args)
    emit(kind="bgemm", name=f"moe {experts}x{m}x{n}x{k}", ms=ms, min_ms=min_ms, gflops=2 * experts * m * n * k / ms / 1e6)


def adam(args, dev, fused):
    for count in args.params:
        sizes = [count // TENSORS] * (TENSORS - 1) + [count // TENSORS + count % TENSORS]
        params = [torch.full((s,), 0.5, device=dev, requires_grad=True) for s in sizes]
        for p in params:
            p.grad = torch.full_like(p, 1e-3)
        opt = torch.optim.Adam(params, lr=1e-3, **({"fused": True} if fused else {}))
        ms, _ = timed_blocks(opt.step, dev, args)

        def clip_step():
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
        clip_ms, _ = timed_blocks(clip_step, dev, args)
        src = torch.ones(count // 2 * 7, device=dev)
        dst = torch.empty_like(src)
        copy_ms, _ = timed_blocks(lambda: dst.copy_(src), dev, args)
        emit(kind="adam", name=str(count), ms=ms, clip_ms=clip_ms, copy_ms=copy_ms, fused=fused,
             adam_gbs=28 * count / ms / 1e6, copy_gbs=28 * count / copy_ms / 1e6)
        del params, opt, src, dst


def gram(args, dev):
    t, n = args.tasks, args.params[0]
    g = torch.rand(t, n, device=dev) * 2 - 1
    gram_out = torch.empty(t, t, device=dev)
    ms, _ = timed_blocks(lambda: torch.mm(g, g.t(), out=gram_out), dev, args)
    emit(kind="gram", name="gram", ms=ms)
    weights = torch.ones(t, device=dev)
    out = torch.empty(n, device=dev)

    def projection():
        gm = g @ g.t()
        # g_i' = g_i - (g_i.g_0 / g_0.g_0) g_0 for i != 0; sum_i w_i g_i' = sum_i c_i g_i with:
        c = weights.clone()
        c[0] = weights[0] - (weights[1:] * gm[1:, 0]).sum() / (gm[0, 0] + 1e-20)
        torch.mv(g.t(), c, out=out)
    ms, _ = timed_blocks(projection, dev, args)
    emit(kind="gram", name="projection", ms=ms)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--part", required=True, choices=["gemm", "adam", "gram"])
    parser.add_argument("--device", default="cuda")
    parser.add_argument("--threads", type=int, default=0)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--block-ms", type=float, default=20)
    parser.add_argument("--warmup-ms", type=float, default=500)
    parser.add_argument("--size", type=int, default=4096)
    parser.add_argument("--scale", type=int, default=1)
    parser.add_argument("--params", type=lambda s: [int(x) for x in s.split(",")], default=[10_000_000, 100_000_000])
    parser.add_argument("--tasks", type=int, default=4)
    args = parser.parse_args()
    if args.threads > 0:
        torch.set_num_threads(args.threads)
    cuda = torch.cuda.is_available()
    gpu = torch.cuda.get_device_name(0) if cuda else "no CUDA device"
    fused = args.device == "cuda" and "fused" in torch.optim.Adam.__init__.__code__.co_varnames
    emit(kind="meta", torch=torch.__version__, threads=torch.get_num_threads(), device=args.device,
         gpu=f"GPU: {gpu}, CUDA {torch.version.cuda}, Adam fused={fused}, TF32 off", python=sys.version.split()[0])
    if args.device == "cuda":
        if not cuda:
            sys.exit(f"--device cuda, but this torch ({torch.__version__}, CUDA {torch.version.cuda}) sees no CUDA device")
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
    torch.manual_seed(0)
    {"gemm": lambda: gemm(args, args.device), "adam": lambda: adam(args, args.device, fused),
     "gram": lambda: gram(args, args.device)}[args.part]()


if __name__ == "__main__":
    main()
