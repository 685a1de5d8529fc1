# Writes adagrad_torch.json: PyTorch 1.13's torch.optim.Adagrad (foreach=False: _single_tensor_adagrad) in float64 over
# 8 steps of fixed gradients on two parameters (5 and 3 elements), in configurations covering lr_decay, weight decay,
# initial_accumulator_value, eps and clip_grad_norm_ before the step, for AdagradTests. The gradients, the parameters
# after every step and the final state (sum) are written out. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_adagrad_fixture.py > Tests/Fixtures/adagrad_torch.json
import json
import math
import torch

torch.set_default_dtype(torch.float64)
steps, sizes = 8, [5, 3]
theta0 = [[0.5 * math.sin(1.3 * (k + 1) + 0.7 * j) for j in range(n)] for k, n in enumerate(sizes)]
grads = [[[1.5 * math.cos(0.9 * s + 1.7 * k + 0.45 * j) + 0.3 * (s % 3 - 1) for j in range(n)] for k, n in enumerate(sizes)]
         for s in range(steps)]
configs = [
    {"lr": 0.01, "lr_decay": 0.0, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10, "clip": None},
    {"lr": 0.1, "lr_decay": 0.05, "weight_decay": 0.0, "initial_accumulator_value": 0.0, "eps": 1e-10, "clip": None},
    {"lr": 0.05, "lr_decay": 0.0, "weight_decay": 0.1, "initial_accumulator_value": 0.5, "eps": 1e-6, "clip": None},
    {"lr": 0.2, "lr_decay": 0.1, "weight_decay": 0.05, "initial_accumulator_value": 0.1, "eps": 1e-10, "clip": 0.5},
]
cases = []
for c in configs:
    params = [torch.tensor(t, requires_grad=True) for t in theta0]
    opt = torch.optim.Adagrad(params, lr=c["lr"], lr_decay=c["lr_decay"], weight_decay=c["weight_decay"],
                              initial_accumulator_value=c["initial_accumulator_value"], eps=c["eps"], foreach=False)
    thetas = []
    for s in range(steps):
        for p, g in zip(params, grads[s]):
            p.grad = torch.tensor(g)
        if c["clip"] is not None:
            torch.nn.utils.clip_grad_norm_(params, c["clip"])
        opt.step()
        thetas.append([p.detach().tolist() for p in params])
    state = {"sum": [opt.state[p]["sum"].tolist() for p in params]}
    cases.append(dict(c, thetas=thetas, state=state))
print(json.dumps({"torch": torch.__version__, "sizes": sizes, "theta0": theta0, "grads": grads, "cases": cases}, indent=1))
