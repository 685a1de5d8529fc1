# Writes famo_torch.json for FamoTests: the authors' FAMO class (github.com/Cranial-XIX/FAMO, famo.py, MIT licence,
# (c) 2023 Bo Liu; its methods' lines below verbatim, the gradient-clipping `backward` left out) run in PyTorch 1.13
# on fixed sequences of task losses, in float32 (torch's default dtype, as the authors run it) and float64.
# Protocol of each case, for t = 0 .. N-1:  loss = famo.get_weighted_loss(L[t]);  λ[t] = ∂loss/∂L[t] (autograd);
# z[t] = softmax(w), w[t] = the logits used at t;  then famo.update(L[t+1]) — i.e. δ compares the losses of two
# consecutive evaluations, the pairing the engine's step uses (docs/maths.md §18.10). Finally the Adam state.
# Run once:  /usr/bin/python3 Tests/Fixtures/make_famo_fixture.py > Tests/Fixtures/famo_torch.json
import json
import math
import torch
import torch.nn.functional as F


class FAMO:
    """
    Fast Adaptive Multitask Optimization.
    """
    def __init__(
        self,
        n_tasks: int,
        device: torch.device,
        gamma: float = 0.01,   # the regularization coefficient
        w_lr: float = 0.025,   # the learning rate of the task logits
        max_norm: float = 1.0, # the maximum gradient norm
    ):
        self.min_losses = torch.zeros(n_tasks).to(device)
        self.w = torch.tensor([0.0] * n_tasks, device=device, requires_grad=True)
        self.w_opt = torch.optim.Adam([self.w], lr=w_lr, weight_decay=gamma)
        self.max_norm = max_norm
        self.n_tasks = n_tasks
        self.device = device

    def set_min_losses(self, losses):
        self.min_losses = losses

    def get_weighted_loss(self, losses):
        self.prev_loss = losses
        z = F.softmax(self.w, -1)
        D = losses - self.min_losses + 1e-8
        c = (z / D).sum().detach()
        loss = (D.log() * z / c).sum()
        return loss

    def update(self, curr_loss):
        delta = (self.prev_loss - self.min_losses + 1e-8).log() - \
                (curr_loss      - self.min_losses + 1e-8).log()
        with torch.enable_grad():
            d = torch.autograd.grad(F.softmax(self.w, -1),
                                    self.w,
                                    grad_outputs=delta.detach())[0]
        self.w_opt.zero_grad()
        self.w.grad = d
        self.w_opt.step()


def sequence(tasks, steps, seed):
    """Losses that mostly fall, at different rates per task, with multiplicative noise (some steps rise)."""
    g = torch.Generator().manual_seed(seed)
    rates = [0.02 + 0.05 * i for i in range(tasks)]
    start = [0.5 + 1.5 * i for i in range(tasks)]
    out = []
    for t in range(steps + 1):
        noise = torch.rand(tasks, generator=g, dtype=torch.float64) * 0.2 - 0.1
        out.append([start[i] * math.exp(-rates[i] * t) * (1 + float(noise[i])) for i in range(tasks)])
    return out


configs = [
    {"name": "defaults", "tasks": 3, "steps": 12, "w_lr": 0.025, "gamma": 1e-3, "min_loss": 0.0, "seed": 1},
    {"name": "famo.py gamma, min-loss", "tasks": 2, "steps": 10, "w_lr": 0.025, "gamma": 0.01, "min_loss": 0.1, "seed": 2},
    {"name": "fast logits, no decay", "tasks": 4, "steps": 15, "w_lr": 0.2, "gamma": 0.0, "min_loss": 0.0, "seed": 3},
]
cases = []
for dtype in (torch.float32, torch.float64):
    torch.set_default_dtype(dtype)
    for c in configs:
        L = sequence(c["tasks"], c["steps"], c["seed"])
        famo = FAMO(n_tasks=c["tasks"], device="cpu", gamma=c["gamma"], w_lr=c["w_lr"])
        if c["min_loss"] != 0.0:
            famo.set_min_losses(torch.full((c["tasks"],), c["min_loss"]))
        lam, z, w = [], [], []
        for t in range(c["steps"]):
            losses = torch.tensor(L[t]).requires_grad_(True)
            loss = famo.get_weighted_loss(losses)
            lam.append([float(v) for v in torch.autograd.grad(loss, losses)[0]])
            z.append([float(v) for v in F.softmax(famo.w, -1).detach()])
            w.append([float(v) for v in famo.w.detach()])
            famo.update(torch.tensor(L[t + 1]))
        state = famo.w_opt.state[famo.w]
        cases.append(dict(c, dtype=str(dtype).replace("torch.", ""), losses=L[:c["steps"]], next_loss=L[c["steps"]],
                          weights=lam, z=z, logits=w, final_logits=[float(v) for v in famo.w.detach()],
                          exp_avg=[float(v) for v in state["exp_avg"]], exp_avg_sq=[float(v) for v in state["exp_avg_sq"]],
                          adam_steps=int(state["step"])))
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
