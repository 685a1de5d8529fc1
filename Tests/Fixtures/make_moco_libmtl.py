# Values of MocoTests.Matches_LibMTL_MoCo_in_PyTorch: run with /usr/bin/python3 (PyTorch 1.13), float64.
# LibMTL/weighting/MoCo.py (median-research-group/LibMTL), MoCo.backward with rep_grad off, restated here: at step t
# (1, 2, ...) each task gradient is replaced by g_i/(||g_i|| + 1e-8) * L_i, then
#   y      <- y - beta/t**beta_sigma * (y - G)
#   lambda <- softmax(lambda - gamma/t**gamma_sigma * (y y^T + rho I) lambda)
#   update  = y^T lambda
# with y = 0 and lambda = 1/T at the start. Four steps of T = 3 tasks, six shared parameters, given gradients and losses.
import torch

steps = [
    ([[0.9, -0.4, 0.3, -1.2, 0.05, 0.7], [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7], [0.1, 0.5, -0.9, 0.3, 0.20, 0.7]], [0.8, 1.3, 0.5]),
    ([[0.2, 0.4, -0.3, 0.5, 0.1, -0.2], [0.3, 0.1, 0.4, -0.2, 0.2, 0.1], [-0.6, 0.2, 0.1, 0.4, -0.5, 0.3]], [0.7, 1.1, 0.6]),
    ([[1.0, 0.0, 0.5, -0.5, 0.2, 0.3], [-0.9, 0.3, -0.2, 0.1, -0.4, 0.2], [0.3, -0.8, 0.6, 0.2, 0.1, -0.1]], [0.65, 0.9, 0.55]),
    ([[0.4, -0.2, 0.1, -0.7, 0.3, 0.5], [-0.2, -0.5, 0.6, 0.3, -0.1, 0.4], [0.5, 0.4, -0.3, 0.1, 0.6, -0.2]], [0.6, 0.8, 0.5]),
]


def run(beta, beta_sigma, gamma, gamma_sigma, rho):
    task_num, dim = 3, 6
    y = torch.zeros(task_num, dim, dtype=torch.float64)
    lambd = torch.ones(task_num, dtype=torch.float64) / task_num
    for t, (g, l) in enumerate(steps, start=1):
        grads = torch.tensor(g, dtype=torch.float64)
        losses = torch.tensor(l, dtype=torch.float64)
        for i in range(task_num):
            grads[i] = grads[i] / (grads[i].norm() + 1e-8) * losses[i]
        y = y - (beta / t ** beta_sigma) * (y - grads)
        lambd = torch.softmax(lambd - (gamma / t ** gamma_sigma) * (y @ y.t() + rho * torch.eye(task_num, dtype=torch.float64)) @ lambd, -1)
        update = y.t() @ lambd
        print("  update", ", ".join(repr(float(v)) for v in update))
        print("  lambda", ", ".join(repr(float(v)) for v in lambd))


print("LibMTL defaults: beta 0.5, beta_sigma 0.5, gamma 0.1, gamma_sigma 0.5, rho 0")
run(0.5, 0.5, 0.1, 0.5, 0.0)
print("beta 0.9, beta_sigma 0.2, gamma 2, gamma_sigma 0.3, rho 0.5")
run(0.9, 0.2, 2.0, 0.3, 0.5)
