# Writes rmsprop_torch.json: PyTorch 1.13's torch.optim.RMSprop (foreach=False: _single_tensor_rmsprop) in float64 over
# 8 steps of fixed gradients on two parameters (5 and 3 elements), in configurations covering momentum, centered,
# weight decay and clip_grad_norm_ before the step, for RmsPropTests. The gradients, the parameters after every step and
# the final state (square_avg, grad_avg, momentum_buffer) are written out. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_rmsprop_fixture.py > Tests/Fixtures/rmsprop_torch.json
import json
import math
import torch

torch.set_default_dtype(torch.float64)
steps, sizes = 8, [5, 3]
theta0 = [[0.5 * math.sin(1.3 * (k + 1) + 0.7 * j) for j in range(n)] for k, n in enumerate(sizes)]
grads = [[[1.5 * math.cos(0.9 * s + 1.7 * k + 0.45 * j) + 0.3 * (s % 3 - 1) for j in range(n)] for k, n in enumerate(sizes)]
         for s in range(steps)]
configs = [
    {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": False, "clip": None},
    {"lr": 0.01, "alpha": 0.99, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.9, "centered": False, "clip": None},
    {"lr": 0.02, "alpha": 0.9, "eps": 1e-8, "weight_decay": 0.0, "momentum": 0.0, "centered": True, "clip": None},
    {"lr": 0.01, "alpha": 0.9, "eps": 1e-6, "weight_decay": 0.1, "momentum": 0.5, "centered": True, "clip": None},
    {"lr": 0.05, "alpha": 0.95, "eps": 1e-8, "weight_decay": 0.05, "momentum": 0.0, "centered": False, "clip": 0.5},
]
cases = []
for c in configs:
    params = [torch.tensor(t, requires_grad=True) for t in theta0]
    opt = torch.optim.RMSprop(params, lr=c["lr"], alpha=c["alpha"], eps=c["eps"], weight_decay=c["weight_decay"],
                              momentum=c["momentum"], centered=c["centered"], foreach=False)
    thetas = []
    for s in range(steps):
        for p, g in zip(params, grads[s]):
            p.grad = torch.tensor(g)
        if c["clip"] is not None:
            torch.nn.utils.clip_grad_norm_(params, c["clip"])
        opt.step()
        thetas.append([p.detach().tolist() for p in params])
    state = {name: [opt.state[p][name].tolist() for p in params]
             for name in ["square_avg", "grad_avg", "momentum_buffer"] if name in opt.state[params[0]]}
    cases.append(dict(c, thetas=thetas, state=state))
print(json.dumps({"torch": torch.__version__, "sizes": sizes, "theta0": theta0, "grads": grads, "cases": cases}, indent=1))
