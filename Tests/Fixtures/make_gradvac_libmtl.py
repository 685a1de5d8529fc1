# Values of GradVacTests.Matches_LibMTL_GradVac_in_PyTorch: run with /usr/bin/python3 (PyTorch 1.13), float64.
# LibMTL/weighting/GradVac.py backward (group_type 0, whole model), its loop's lines verbatim over three steps with
# given task gradients (T = 2, so the shuffled order of the other tasks is the one other task), beta = 0.5.
import torch
steps = [
    torch.tensor([[0.9, -0.4, 0.3, -1.2, 0.05, 0.7], [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7]], dtype=torch.float64),
    torch.tensor([[0.2, 0.4, -0.3, 0.5, 0.1, -0.2], [0.3, 0.1, 0.4, -0.2, 0.2, 0.1]], dtype=torch.float64),
    torch.tensor([[1.0, 0.0, 0.5, -0.5, 0.2, 0.3], [-0.9, 0.3, -0.2, 0.1, -0.4, 0.2]], dtype=torch.float64),
]
task_num, beta = 2, 0.5
k_idx = [-1]
rho_T = torch.zeros(task_num, task_num, len(k_idx), dtype=torch.float64)
for grads in steps:
    pc_grads = grads.clone()
    for tn_i in range(task_num):
        task_index = list(range(task_num))
        task_index.remove(tn_i)
        for tn_j in task_index:
            for k in range(len(k_idx)):
                beg, end = sum(k_idx[:k]), sum(k_idx[:k+1])
                if end == -1:
                    end = grads.size()[-1]
                rho_ijk = torch.dot(pc_grads[tn_i,beg:end], grads[tn_j,beg:end]) / (pc_grads[tn_i,beg:end].norm()*grads[tn_j,beg:end].norm()+1e-8)
                if rho_ijk < rho_T[tn_i, tn_j, k]:
                    w = pc_grads[tn_i,beg:end].norm()*(rho_T[tn_i,tn_j,k]*(1-rho_ijk**2).sqrt()-rho_ijk*(1-rho_T[tn_i,tn_j,k]**2).sqrt())/(grads[tn_j,beg:end].norm()*(1-rho_T[tn_i,tn_j,k]**2).sqrt()+1e-8)
                    pc_grads[tn_i,beg:end] += grads[tn_j,beg:end]*w
                rho_T[tn_i,tn_j,k] = (1-beta)*rho_T[tn_i,tn_j,k] + beta*rho_ijk
    new_grads = pc_grads.sum(0)
    print("update", ", ".join(repr(float(v)) for v in new_grads))
    print("targets", [[float(rho_T[i, j, 0]) for j in range(task_num)] for i in range(task_num)])
