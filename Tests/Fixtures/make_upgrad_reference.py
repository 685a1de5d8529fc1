# Values of UpgradTests.Matches_a_PyTorch_reference_of_torchjd_UPGrad: run with /usr/bin/python3 (PyTorch 1.13), float64.
# torchjd's UPGradWeighting.forward (src/torchjd/aggregation/_upgrad.py) step by step: U = diag(mean weights 1/m),
# G = regularize(normalize(gramian, norm_eps), reg_eps), W = project_weights(U, G), weights = W.sum(0); the update is
# weights @ J. project_weights solves min_v v^T G v s.t. v >= u with quadprog; quadprog-free here: the QP is strictly
# convex, so its solution is the one point meeting the KKT conditions, found by trying every active set S
# (v = u on S; on the rest F, v_F solves (G v)_F = 0; accepted when v_F >= u_F and the multipliers 2(G v)_S >= 0).
import itertools
import torch
J = torch.tensor([[0.9, -0.4, 0.3, -1.2, 0.05, 0.7],
                  [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7],
                  [0.1, 0.5, -0.9, 0.3, 0.20, 0.7],
                  [-0.8, 0.2, 0.1, 0.9, 0.1, -0.5]], dtype=torch.float64)
norm_eps, reg_eps = 0.0001, 0.0001

def project(u, G):
    m = len(u)
    for size in range(m + 1):
        for S in itertools.combinations(range(m), size):
            v = u.clone()
            F = [j for j in range(m) if j not in S]        # constraints inactive: v_j free
            if F:
                # stationarity on the free coordinates: (G v)_F = 0 with v_S = u_S
                A = G[F][:, F]
                b = -(G[F][:, list(S)] @ u[list(S)]) if S else torch.zeros(len(F), dtype=torch.float64)
                v[F] = torch.linalg.solve(A, b)
            mult = 2 * (G @ v)                               # multipliers of the active constraints v_S >= u_S
            if all(v[j] >= u[j] - 1e-12 for j in F) and all(mult[j] >= -1e-12 for j in S):
                return v
    raise RuntimeError("no KKT point")

for T in (2, 3, 4):
    Jt = J[:T]
    gramian = Jt @ Jt.t()
    sq = gramian.diagonal().sum()
    G = torch.zeros_like(gramian) if sq < norm_eps else gramian / sq      # normalize
    G = G + reg_eps * torch.eye(T, dtype=torch.float64)                   # regularize
    U = torch.diag(torch.full((T,), 1.0 / T, dtype=torch.float64))        # MeanWeighting
    W = torch.stack([project(U[i], G) for i in range(T)])
    weights = W.sum(0)
    print("T", T, "weights", ", ".join(repr(float(v)) for v in weights))
    print("T", T, "update", ", ".join(repr(float(v)) for v in weights @ Jt))
