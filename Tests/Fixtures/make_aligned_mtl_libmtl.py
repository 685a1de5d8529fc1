# Values of AlignedMtlTests.Matches_LibMTL_Aligned_MTL_in_PyTorch: run with /usr/bin/python3 (PyTorch 1.13).
# LibMTL/weighting/Aligned_MTL.py (rep_grad = False), its backward's lines verbatim on given task gradients (float64
# tensors; torch.finfo() is the default dtype's, float32, as in LibMTL), then the shared gradient
# _backward_new_grads(alpha, grads=grads) sets: sum_t alpha_t g_t. Also SamsungLabs/MTL ProcrustesSolver's other modes.
import warnings
import torch
warnings.filterwarnings("ignore")
grads = torch.tensor([[0.9, -0.4, 0.3, -1.2, 0.05, 0.7],
                      [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7],
                      [0.1, 0.5, -0.9, 0.3, 0.20, 0.7]], dtype=torch.float64)
M = torch.matmul(grads, grads.t()) # [num_tasks, num_tasks]
lmbda, V = torch.symeig(M, eigenvectors=True)
tol = (
    torch.max(lmbda)
    * max(M.shape[-2:])
    * torch.finfo().eps
)
rank = sum(lmbda > tol)

order = torch.argsort(lmbda, dim=-1, descending=True)
lmbda, V = lmbda[order][:rank], V[:, order][:, :rank]

sigma = torch.diag(1 / lmbda.sqrt())
B = lmbda[-1].sqrt() * ((V @ sigma) @ V.t())
alpha = B.sum(0)
print("alpha", ", ".join(repr(float(v)) for v in alpha))
print("shared grad", ", ".join(repr(float(v)) for v in alpha @ grads))
# ProcrustesSolver.apply(grads.T.unsqueeze(0), scale_mode) for 'median' and 'rmse': the weights' row sums.
for mode in ("median", "rmse"):
    singulars = lmbda
    basis = V
    if mode == 'median':
        weights = basis * torch.sqrt(torch.median(singulars)).view(1, -1)
    else:
        weights = basis * torch.sqrt(singulars.mean())
    weights = weights / torch.sqrt(singulars).view(1, -1)
    weights = torch.matmul(weights, basis.T)
    print(mode, "shared grad", ", ".join(repr(float(v)) for v in weights.sum(-1) @ grads))
