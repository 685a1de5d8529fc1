# Values of ExcessMtlTests.Matches_LibMTL_ExcessMTL: run with /usr/bin/python3 (PyTorch 1.13), in float32 (LibMTL's dtype)
# and float64. LibMTL/weighting/ExcessMTL.py's backward with its lines kept (grad_sum, h_i = sqrt(grad_sum[i] + 1e-7),
# w[i] = grad_i * (1 / h_i) @ grad_i.t(), the first call keeps initial_w, later calls w / initial_w,
# loss_weight * exp(w * robust_step_size), loss_weight / sum * task_num), given the task gradients of each step directly
# (the grads `_get_grads` would return), and the losses L_t = g_t . theta, so that loss.backward() leaves
# sum_t loss_weight_t g_t in theta.grad. Prints, per step, the risks w (before the division), the weights the step
# trains with and the shared gradient.
import json
import math
import torch

T, P, STEPS = 3, 5, 5


def gradients(dtype):
    # Step s, task t, coordinate p: a smooth pattern, task 1 ten times task 0's scale, task 2 shrinking over the steps.
    g = [[[round(math.sin(1.3 * s + 2.1 * t + 0.7 * p + 0.4) * (10.0 if t == 1 else 1.0) * (0.6 ** s if t == 2 else 1.0), 4)
           for p in range(P)] for t in range(T)] for s in range(STEPS)]
    return g, [torch.tensor(x, dtype=dtype) for x in g]


class ExcessMTL:
    def __init__(self, task_num, device, dtype):
        self.task_num, self.device = task_num, device
        self.loss_weight = torch.tensor([1.0] * self.task_num, device=self.device, requires_grad=False, dtype=dtype)
        self.grad_sum = None
        self.first_epoch = True

    def backward(self, grads, losses, theta, **kwargs):
        if self.grad_sum is None:
            self.grad_sum = torch.zeros_like(grads)

        w = torch.zeros(self.task_num, device=self.device, dtype=grads.dtype)
        for i in range(self.task_num):
            self.grad_sum[i] += grads[i]**2
            grad_i = grads[i]
            h_i = torch.sqrt(self.grad_sum[i] + 1e-7)
            w[i] = grad_i * (1 / h_i) @ grad_i.t()
        risks = w.clone()

        if self.first_epoch:
            self.initial_w = w
            self.first_epoch = False
        else:
            w = w / self.initial_w
            robust_step_size = kwargs['robust_step_size']
            self.loss_weight = self.loss_weight * torch.exp(w * robust_step_size)
            self.loss_weight = self.loss_weight / self.loss_weight.sum() * self.task_num
            self.loss_weight = self.loss_weight.detach().clone()

        theta.grad = None
        loss = torch.mul(losses, self.loss_weight).sum()
        loss.backward()
        return risks, self.loss_weight.clone(), theta.grad.clone()


out = {"tasks": T, "length": P}
for dtype, name in ((torch.float32, "float32"), (torch.float64, "float64")):
    raw, gs = gradients(dtype)
    out["grads"] = raw
    cases = []
    for eta in (1e-2, 0.5):
        m = ExcessMTL(T, "cpu", dtype)
        theta = torch.zeros(P, dtype=dtype, requires_grad=True)
        steps = []
        for g in gs:
            losses = torch.mv(g, theta) + 1.0
            r, lw, sg = m.backward(g, losses, theta, robust_step_size=eta)
            steps.append({"risks": r.tolist(), "weights": lw.tolist(), "shared": sg.tolist()})
        cases.append({"robust_step_size": eta, "steps": steps})
    out[name] = cases
print(json.dumps(out, indent=1))
