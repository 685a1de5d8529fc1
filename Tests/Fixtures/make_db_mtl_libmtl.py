# Values of DbMtlTests.Matches_LibMTL_DB_MTL_in_PyTorch: run with /usr/bin/python3 (PyTorch 1.13), float64.
# LibMTL/weighting/DB_MTL.py (median-research-group/LibMTL at 4336804) verbatim, with the lines of
# AbsWeighting (abstract_weighting.py) it calls, on a toy model: a shared parameter theta (6) and one head scalar h_t
# per task, the task losses linear in both at theta = 0, h = 0: L_t = l_t + g_t . theta + c_t * h_t, so the batch's
# loss values are l_t, their shared gradients g_t and their head gradients c_t (the inputs the test feeds the engine).
# Four steps, T = 3, losses of very different scales; two settings: (beta, beta_sigma) = (0.9, 0) (LibMTL's defaults)
# and (0.5, 0.5). Prints, per step, the shared gradient LibMTL's backward leaves (its _reset_grad) and the heads'.
import torch, numpy as np
import torch.nn as nn
torch.set_default_dtype(torch.float64)

class AbsWeighting(nn.Module):
    def __init__(self):
        super(AbsWeighting, self).__init__()

    def _compute_grad_dim(self):
        if hasattr(self, "grad_index"):
            pass
        else:
            self.grad_index = []
            for param in self.get_share_params():
                self.grad_index.append(param.data.numel())
            self.grad_dim = sum(self.grad_index)

    def _grad2vec(self):
        grad = torch.zeros(self.grad_dim)
        count = 0
        for param in self.get_share_params():
            if param.grad is not None:
                beg = 0 if count == 0 else sum(self.grad_index[:count])
                end = sum(self.grad_index[:(count+1)])
                grad[beg:end] = param.grad.data.view(-1)
            count += 1
        return grad

    def _compute_grad(self, losses, mode, rep_grad=False):
        grads = torch.zeros(self.task_num, self.grad_dim).to(self.device)
        for tn in range(self.task_num):
            if mode == 'backward':
                losses[tn].backward(retain_graph=True) if (tn+1)!=self.task_num else losses[tn].backward()
                grads[tn] = self._grad2vec()
            self.zero_grad_share_params()
        return grads

    def _reset_grad(self, new_grads):
        count = 0
        for param in self.get_share_params():
            if param.grad is not None:
                beg = 0 if count == 0 else sum(self.grad_index[:count])
                end = sum(self.grad_index[:(count+1)])
                param.grad.data = new_grads[beg:end].contiguous().view(param.data.size()).data.clone()
            count += 1

class DB_MTL(AbsWeighting):

    def __init__(self):
        super(DB_MTL, self).__init__()

    def init_param(self):
        self.step = 0
        self._compute_grad_dim()
        self.grad_buffer = torch.zeros(self.task_num, self.grad_dim).to(self.device)

    def backward(self, losses, **kwargs):
        self.step += 1
        beta = kwargs['DB_beta']
        beta_sigma = kwargs['DB_beta_sigma']

        batch_weight = np.ones(len(losses))
        if self.rep_grad:
            raise ValueError('No support method DB_MTL with representation gradients (rep_grad=True)')
        else:
            self._compute_grad_dim()
            batch_grads = self._compute_grad(torch.log(losses+1e-8), mode='backward') # [task_num, grad_dim]

        self.grad_buffer = batch_grads + (beta/self.step**beta_sigma) * (self.grad_buffer - batch_grads)

        u_grad = self.grad_buffer.norm(dim=-1)

        alpha = u_grad.max() / (u_grad + 1e-8)
        new_grads = sum([alpha[i] * self.grad_buffer[i] for i in range(self.task_num)])

        self._reset_grad(new_grads)
        return batch_weight

class Toy(DB_MTL):
    def __init__(self, tasks):
        super().__init__()
        self.theta = nn.Parameter(torch.zeros(6))
        self.heads = nn.Parameter(torch.zeros(tasks))
        self.task_num, self.device, self.rep_grad = tasks, 'cpu', False
    def get_share_params(self):
        return [self.theta]
    def zero_grad_share_params(self):
        self.theta.grad = torch.zeros_like(self.theta)  # LibMTL's encoder.zero_grad(set_to_none=False)

losses = [[2.0, 0.05, 30.0], [1.5, 0.04, 25.0], [1.2, 0.045, 18.0], [0.9, 0.03, 20.0]]
grads = [
    [[0.9, -0.4, 0.3, -1.2, 0.05, 0.7], [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7], [0.1, 0.5, -0.9, 0.3, 0.20, 0.7]],
    [[0.2, 0.4, -0.3, 0.5, 0.1, -0.2], [0.3, 0.1, 0.4, -0.2, 0.2, 0.1], [-0.6, 0.2, 0.1, 0.4, -0.3, 0.5]],
    [[1.0, 0.0, 0.5, -0.5, 0.2, 0.3], [-0.9, 0.3, -0.2, 0.1, -0.4, 0.2], [0.3, -0.7, 0.6, 0.2, 0.1, -0.1]],
    [[-0.4, 0.8, 0.1, 0.3, -0.6, 0.2], [0.5, 0.5, -0.5, 0.0, 0.3, -0.4], [0.2, 0.1, 0.9, -0.8, 0.4, 0.6]],
]
heads = [[0.5, -1.0, 2.0], [0.3, 0.7, -1.5], [-0.2, 0.4, 1.0], [0.6, -0.3, 0.8]]
for beta, beta_sigma in [(0.9, 0.0), (0.5, 0.5)]:
    model = Toy(3)
    model.init_param()
    print(f"beta {beta} beta_sigma {beta_sigma}")
    for s in range(4):
        model.theta.grad, model.heads.grad = None, None  # the trainer's optimizer.zero_grad() before each step
        l = torch.stack([losses[s][t] + torch.dot(torch.tensor(grads[s][t]), model.theta) + heads[s][t] * model.heads[t] for t in range(3)])
        model.backward(l, DB_beta=beta, DB_beta_sigma=beta_sigma)
        print("  shared", "[" + ", ".join(repr(float(v)) for v in model.theta.grad) + "],")
        print("  heads ", "[" + ", ".join(repr(float(v)) for v in model.heads.grad) + "],")
