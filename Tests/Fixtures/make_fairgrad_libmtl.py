# Values of FairGradTests.Matches_LibMTL_FairGrad: run with /usr/bin/python3 (PyTorch 1.13, Debian's python3-scipy), float64.
# LibMTL/weighting/FairGrad.py's backward with its lines kept (GTG = grads grads^T, x_start = 1/T, objfn,
# least_squares(objfn, x_start, bounds=(0, inf)) with scipy's defaults), on the fixture gradients (the shared gradient of
# losses linear in a shared parameter, so grads are the rows exactly) and the same rows scaled by (2, 1/2, 1), for
# FairGrad_alpha 1 (LibMTL's default), 2 and 0.5. Prints the weights w, the shared gradient sum_i w_i g_i, and the
# residual max |(GTG w)_i - w_i^(-1/alpha)| / w_i^(-1/alpha) least_squares stopped at.
import numpy as np
import torch
from scipy.optimize import least_squares

torch.set_default_dtype(torch.float64)
G0 = [[0.9, -0.4, 0.3, -1.2, 0.05, 0.7],
      [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7],
      [0.1, 0.5, -0.9, 0.3, 0.20, 0.7]]


def fairgrad_backward(grads, alpha):
    task_num = grads.shape[0]
    GTG = torch.mm(grads, grads.t())
    x_start = np.ones(task_num) / task_num
    A = GTG.data.cpu().numpy()

    def objfn(x):
        return np.dot(A, x) - np.power(1 / x, 1 / alpha)

    res = least_squares(objfn, x_start, bounds=(0, np.inf))
    w_cpu = res.x
    # torch.sum(ww * losses).backward() with L_t = g_t . theta: the shared gradient is sum_t w_t g_t.
    theta = torch.zeros(grads.shape[1], requires_grad=True)
    losses = torch.mv(grads, theta) + 1.0
    ww = torch.tensor(w_cpu)
    torch.sum(ww * losses).backward()
    rhs = np.power(1 / w_cpu, 1 / alpha)
    return w_cpu, theta.grad.numpy(), np.max(np.abs(A @ w_cpu - rhs) / rhs)


for name, scale in (("fixture", [1.0, 1.0, 1.0]), ("scaled (2, 1/2, 1)", [2.0, 0.5, 1.0])):
    grads = torch.tensor(G0) * torch.tensor(scale)[:, None]
    for alpha in (1.0, 2.0, 0.5):
        w, shared, residual = fairgrad_backward(grads, alpha)
        print(f"{name}, alpha {alpha}: relative residual {residual:.3e}")
        print("  w      = [" + ", ".join(repr(float(v)) for v in w) + "]")
        print("  shared = [" + ", ".join(repr(float(v)) for v in shared) + "]")
