# Values of MgdaNormalizationTests.Matches_LibMTL_MGDA: run with /usr/bin/python3 (PyTorch 1.13), float64.
# LibMTL/weighting/MGDA.py (median-research-group/LibMTL): _find_min_norm_element and _gradient_normalizers with their
# lines kept, and backward's non-rep_grad path: the solution is applied to the NORMALISED gradients
# (self._backward_new_grads(sol, grads=grads) after grads = self._gradient_normalizers(...)), i.e. d = sum_i sol_i g_i/c_i.
# The gradients are fixed rows with an interior min-norm point so that LibMTL's iteration (MAX_ITER 250, STOP_CRIT 1e-5)
# and its two-task clip to [0.001, 0.999] do not bind; the printed d is compared with the engine's combined gradient.
import torch
torch.set_default_dtype(torch.float64)


def _find_min_norm_element(grads):
    def _min_norm_element_from2(v1v1, v1v2, v2v2):
        if v1v2 >= v1v1:
            return 0.999, v1v1
        if v1v2 >= v2v2:
            return 0.001, v2v2
        gamma = -1.0 * ((v1v2 - v2v2) / (v1v1 + v2v2 - 2 * v1v2))
        cost = v2v2 + gamma * (v1v2 - v2v2)
        return gamma, cost

    def _min_norm_2d(grad_mat):
        dmin = 1e8
        for i in range(grad_mat.size()[0]):
            for j in range(i + 1, grad_mat.size()[0]):
                c, d = _min_norm_element_from2(grad_mat[i, i], grad_mat[i, j], grad_mat[j, j])
                if d < dmin:
                    dmin = d
                    sol = [(i, j), c, d]
        return sol

    def _projection2simplex(y):
        m = len(y)
        sorted_y = torch.sort(y, descending=True)[0]
        tmpsum = 0.0
        tmax_f = (torch.sum(y) - 1.0) / m
        for i in range(m - 1):
            tmpsum += sorted_y[i]
            tmax = (tmpsum - 1) / (i + 1.0)
            if tmax > sorted_y[i + 1]:
                tmax_f = tmax
                break
        return torch.max(y - tmax_f, torch.zeros(m))

    def _next_point(cur_val, grad, n):
        proj_grad = grad - (torch.sum(grad) / n)
        tm1 = -1.0 * cur_val[proj_grad < 0] / proj_grad[proj_grad < 0]
        tm2 = (1.0 - cur_val[proj_grad > 0]) / (proj_grad[proj_grad > 0])
        t = torch.ones(1)
        if (tm1 > 1e-7).sum() > 0:
            t = torch.min(tm1[tm1 > 1e-7])
        if (tm2 > 1e-7).sum() > 0:
            t = torch.min(t, torch.min(tm2[tm2 > 1e-7]))
        next_point = proj_grad * t + cur_val
        return _projection2simplex(next_point)

    MAX_ITER = 250
    STOP_CRIT = 1e-5
    grad_mat = grads.mm(grads.t())
    init_sol = _min_norm_2d(grad_mat)
    n = grads.size()[0]
    sol_vec = torch.zeros(n)
    sol_vec[init_sol[0][0]] = init_sol[1]
    sol_vec[init_sol[0][1]] = 1 - init_sol[1]
    if n < 3:
        return sol_vec
    iter_count = 0
    while iter_count < MAX_ITER:
        grad_dir = -1.0 * torch.matmul(grad_mat, sol_vec)
        new_point = _next_point(sol_vec, grad_dir, n)
        v1v1 = torch.sum(sol_vec.unsqueeze(1).repeat(1, n) * sol_vec.unsqueeze(0).repeat(n, 1) * grad_mat)
        v1v2 = torch.sum(sol_vec.unsqueeze(1).repeat(1, n) * new_point.unsqueeze(0).repeat(n, 1) * grad_mat)
        v2v2 = torch.sum(new_point.unsqueeze(1).repeat(1, n) * new_point.unsqueeze(0).repeat(n, 1) * grad_mat)
        nc, nd = _min_norm_element_from2(v1v1, v1v2, v2v2)
        new_sol_vec = nc * sol_vec + (1 - nc) * new_point
        change = new_sol_vec - sol_vec
        if torch.sum(torch.abs(change)) < STOP_CRIT:
            return sol_vec
        sol_vec = new_sol_vec
        iter_count += 1  # (LibMTL never increments it; its loop ends at the stop test)
    return sol_vec


def _gradient_normalizers(grads, loss_data, ntype):
    if ntype == 'l2':
        gn = grads.pow(2).sum(-1).sqrt()
    elif ntype == 'loss':
        gn = loss_data
    elif ntype == 'loss+':
        gn = loss_data * grads.pow(2).sum(-1).sqrt()
    elif ntype == 'none':
        gn = torch.ones_like(loss_data)
    return grads / gn.unsqueeze(1).repeat(1, grads.size()[1])


cases = {
    'two': (torch.tensor([[1.0, 0.5, -0.2, 0.3], [-0.4, 2.0, 0.6, -1.0]]), torch.tensor([0.7, 2.5])),
    'three': (torch.tensor([[1.0, 0.2, -0.3, 0.5, 0.1], [-0.6, 1.5, 0.4, -0.2, 0.3], [0.2, -0.5, 2.0, 0.3, -0.4]]),
              torch.tensor([0.9, 1.8, 0.4])),
}
for name, (g, losses) in cases.items():
    for ntype in ['none', 'l2', 'loss', 'loss+']:
        gn = _gradient_normalizers(g, losses, ntype)
        sol = _find_min_norm_element(gn)
        d = (sol.unsqueeze(1) * gn).sum(0)
        print(name, ntype, 'sol', [round(float(x), 10) for x in sol], 'd', [round(float(x), 10) for x in d])
