# Values of GradNormTests.Matches_LibMTL_GradNorm_in_PyTorch (Tests/Fixtures/gradnorm_torch.json): run with
# /usr/bin/python3 (PyTorch 1.13), float64. LibMTL/weighting/GradNorm.py backward's lines (G_per_loss, G, L_i, r_i,
# constant_term, L_grad, L_grad.backward()) over six steps of fixed per-task gradients of the shared parameters and
# fixed losses, T = 3, P = 6, then the weights' optimizer step:
#   softmax: LibMTL verbatim, loss_scale = T * softmax(p), p a leaf initialised to 1, stepped by torch.optim.Adam;
#   paper:   the paper's parameterisation, the weights w themselves a leaf initialised to 1, stepped by Adam or SGD,
#            then clamped at 0 and renormalised to sum T (torch.no_grad).
# Two deviations from LibMTL, both the engine's: L_i(0) is the first step's loss (LibMTL divides by the mean loss of
# epoch 0 and trains epoch 0 with equal weights), and the optimizer of the weights is their own (LibMTL steps p with
# the model's optimizer). The inputs are float32 values (rounded once), so the engine reads them exactly.
import json
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
T, P, STEPS = 3, 6, 6
gen = torch.Generator().manual_seed(13)
scales = torch.tensor([0.5, 2.0, 1.0]).unsqueeze(1)
grads = [(torch.randn(T, P, generator=gen) * scales).float().double() for _ in range(STEPS)]
decay = torch.tensor([0.05, 0.2, 0.1])
losses = [(torch.tensor([1.2, 0.4, 2.5]) * torch.exp(-decay * s) * (1 + 0.05 * torch.randn(T, generator=gen))).float().double()
          for s in range(STEPS)]


def run(parameterization, optimizer, alpha, lr):
    task_num = T
    leaf = torch.tensor([1.0] * task_num, requires_grad=True)
    opt = torch.optim.Adam([leaf], lr=lr) if optimizer == "adam" else torch.optim.SGD([leaf], lr=lr)
    initial = None
    out = []
    for s in range(STEPS):
        opt.zero_grad()
        loss_scale = task_num * F.softmax(leaf, dim=-1) if parameterization == "softmax" else leaf * 1.0
        if initial is None:
            initial = losses[s].clone()
        G_per_loss = torch.norm(loss_scale.unsqueeze(1) * grads[s], p=2, dim=-1)
        G = G_per_loss.mean(0)
        L_i = torch.Tensor([losses[s][tn].item() / initial[tn].item() for tn in range(task_num)])
        r_i = L_i / L_i.mean()
        constant_term = (G * (r_i ** alpha)).detach()
        L_grad = (G_per_loss - constant_term).abs().sum(0)
        L_grad.backward()
        used = loss_scale.detach().clone()
        gradient = leaf.grad.detach().clone()
        opt.step()
        with torch.no_grad():
            if parameterization == "paper":
                leaf.clamp_(min=0)
                leaf.mul_(task_num / leaf.sum())
            after = task_num * F.softmax(leaf, dim=-1) if parameterization == "softmax" else leaf.clone()
        out.append({"used": used.tolist(), "gradient": gradient.tolist(), "next": after.tolist(), "l_grad": L_grad.item()})
    return out


cases = []
for parameterization, optimizer, alpha, lr in [("softmax", "adam", 1.5, 0.025), ("paper", "adam", 1.5, 0.025),
                                               ("paper", "sgd", 0.5, 0.05), ("softmax", "sgd", 0.0, 0.1)]:
    cases.append({"weights": parameterization, "optimizer": optimizer, "alpha": alpha, "lr": lr,
                  "steps": run(parameterization, optimizer, alpha, lr)})
fixture = {"tasks": T, "length": P, "grads": [g.flatten().tolist() for g in grads], "losses": [l.tolist() for l in losses],
           "cases": cases}
with open("gradnorm_torch.json", "w") as f:
    json.dump(fixture, f, indent=1)
    f.write("\n")
