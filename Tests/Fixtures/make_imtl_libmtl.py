# Values of ImtlTests.Matches_LibMTL_IMTL_in_PyTorch: run with /usr/bin/python3 (PyTorch 1.13), float64.
# LibMTL/weighting/IMTL.py (rep_grad = False), its backward's lines verbatim, on a shared parameter theta with task
# losses L_t = g_t . theta + c_t (so grad L_t = g_t exactly), as AbsWeighting._compute_grad(mode='backward') runs them:
# one backward per scaled loss, the shared gradient of each read and zeroed, loss_scale.grad accumulated.
import torch
torch.set_default_dtype(torch.float64)
g = torch.tensor([[0.9, -0.4, 0.3, -1.2, 0.05, 0.7],
                  [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7],
                  [0.1, 0.5, -0.9, 0.3, 0.20, 0.7]])
L0 = torch.tensor([0.8, 1.7, 0.3])          # the loss values at theta = 0
task_num = 3
theta = torch.zeros(6, requires_grad=True)
loss_scale = torch.nn.Parameter(torch.tensor([0.2, -0.3, 0.5]))   # LibMTL starts at 0; a trained state here
losses = g @ theta + L0
losses = loss_scale.exp()*losses - loss_scale
grads = torch.zeros(task_num, 6)
for tn in range(task_num):
    losses[tn].backward(retain_graph=True) if (tn+1)!=task_num else losses[tn].backward()
    grads[tn] = theta.grad.clone()
    theta.grad.zero_()
grads_unit = grads/torch.norm(grads, p=2, dim=-1, keepdim=True)
D = grads[0:1].repeat(task_num-1, 1) - grads[1:]
U = grads_unit[0:1].repeat(task_num-1, 1) - grads_unit[1:]
alpha = torch.matmul(torch.matmul(grads[0], U.t()), torch.inverse(torch.matmul(D, U.t())))
alpha = torch.cat((1-alpha.sum().unsqueeze(0), alpha), dim=0)
new_grad = (alpha.unsqueeze(1) * grads).sum(0)   # _backward_new_grads(alpha, grads=grads)
print("alpha", ", ".join(repr(float(v)) for v in alpha))
print("shared grad", ", ".join(repr(float(v)) for v in new_grad))
print("loss_scale grad", ", ".join(repr(float(v)) for v in loss_scale.grad))
print("projections", ", ".join(repr(float(v)) for v in grads_unit @ new_grad))
