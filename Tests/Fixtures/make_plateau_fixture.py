# Writes plateau_torch.json: the learning rates PyTorch's ReduceLROnPlateau (mode "min", threshold_mode "rel") sets
# for two parameter groups over a fixed sequence of epoch losses (improvements, plateaus, tiny gains under the
# threshold, a NaN), in several configurations, for PlateauScheduleTests. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_plateau_fixture.py > Tests/Fixtures/plateau_torch.json
import json
import math
import torch

losses = [1.0, 0.9, 0.8, 0.8, 0.79995, 0.8, 0.81, 0.7, 0.7, 0.7, 0.7, 0.69, 0.7, float("nan"), 0.7, 0.68,
          0.68, 0.68, 0.68, 0.68, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.4, 0.4, 0.4, 0.4, 0.4]
configs = [
    {"factor": 0.5, "patience": 2, "threshold": 1e-4, "cooldown": 0, "min_lr": 0.0},
    {"factor": 0.1, "patience": 0, "threshold": 1e-4, "cooldown": 0, "min_lr": 1e-4},
    {"factor": 0.3, "patience": 1, "threshold": 0.05, "cooldown": 2, "min_lr": 0.0},
    {"factor": 0.5, "patience": 3, "threshold": 0.0, "cooldown": 1, "min_lr": 0.004},
]
bases = [0.1, 0.003]
cases = []
for c in configs:
    params = [torch.zeros(1, requires_grad=True), torch.zeros(1, requires_grad=True)]
    opt = torch.optim.SGD([{"params": [params[0]], "lr": bases[0]}, {"params": [params[1]], "lr": bases[1]}], lr=bases[0])
    sched = torch.optim.lr_scheduler.ReduceLROnPlateau(opt, mode="min", factor=c["factor"], patience=c["patience"],
        threshold=c["threshold"], threshold_mode="rel", cooldown=c["cooldown"], min_lr=c["min_lr"], eps=1e-8)
    lrs = []
    for loss in losses:
        sched.step(loss)
        lrs.append([g["lr"] for g in opt.param_groups])
    cases.append(dict(c, lrs=lrs))
print(json.dumps({"torch": torch.__version__, "bases": bases,
                  "losses": [None if math.isnan(x) else x for x in losses], "cases": cases}, indent=1))
