# Values of GradDropTests.Matches_LibMTL_in_PyTorch: run with /usr/bin/python3 (PyTorch 1.13).
# LibMTL GradDrop.backward (rep_grad mode) with B = 1 and a positive representation (sign 1), U supplied.
import torch
M64 = (1 << 64) - 1
def mix(z):
    z = ((z ^ (z >> 30)) * 0xBF58476D1CE4E5B9) & M64
    z = ((z ^ (z >> 27)) * 0x94D049BB133111EB) & M64
    return z ^ (z >> 31)
def uniform_single(seed, step, k):
    key = mix(seed ^ mix((step * 0x9E3779B97F4A7C15 + 2 * k) & M64))
    return ((key >> 41) + 0.5) / 2**23
torch.manual_seed(0)
T, K = 3, 8
g = torch.tensor([[ 0.9, -0.4,  0.3, -1.2,  0.05, 0.7, -0.2,  0.0],
                  [-0.5, -0.6,  0.2,  0.8, -0.30, 0.7,  0.6, -0.1],
                  [ 0.1,  0.5, -0.9,  0.3,  0.20, 0.7, -0.6,  0.4]], dtype=torch.float64)
seed, step = 12345, 7
for leak in (0.0, 0.25):
    per_grads = g.unsqueeze(1)                    # T × B(=1) × K
    inputs = torch.ones(T, 1, K, dtype=torch.float64)
    grads = (per_grads * inputs.sign()).sum(1)
    P = 0.5 * (1 + grads.sum(0) / (grads.abs().sum(0) + 1e-7))
    U = torch.tensor([uniform_single(seed, step, k) for k in range(K)], dtype=torch.float64)
    M = P.gt(U).unsqueeze(0).repeat_interleave(T, dim=0) * grads.gt(0) + \
        P.lt(U).unsqueeze(0).repeat_interleave(T, dim=0) * grads.lt(0)
    M = M.unsqueeze(1).repeat_interleave(per_grads.size()[1], dim=1)
    transformed = (per_grads * (leak + (1 - leak) * M)).sum(0).squeeze(0)
    print("leak", leak, "P", [round(float(p), 6) for p in P], "U", [round(float(u), 6) for u in U])
    print("out", ", ".join(repr(float(v)) for v in transformed))
