# Writes layernorm_torch.json: PyTorch's F.layer_norm over the last axis (eps 1e-5, learnable weight and bias) and its
# gradients with respect to the input, the weight and the bias for a fixed upstream gradient, in float64, for
# LayerNormTests. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_layernorm_fixture.py > Tests/Fixtures/layernorm_torch.json
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, rows, cols, seed, scale=1.0, shift=0.0):
    g = torch.Generator().manual_seed(seed)
    x = (torch.randn(rows, cols, generator=g, dtype=torch.float64) * scale + shift).requires_grad_()
    w = (1 + 0.5 * torch.randn(cols, generator=g, dtype=torch.float64)).requires_grad_()
    b = (0.3 * torch.randn(cols, generator=g, dtype=torch.float64)).requires_grad_()
    dy = torch.randn(rows, cols, generator=g, dtype=torch.float64)
    y = F.layer_norm(x, (cols,), w, b, eps=1e-5)
    y.backward(dy)
    cases.append({"name": name, "rows": rows, "cols": cols, "x": x.detach().flatten().tolist(),
                  "weight": w.detach().tolist(), "bias": b.detach().tolist(), "dy": dy.flatten().tolist(),
                  "y": y.detach().flatten().tolist(), "dx": x.grad.flatten().tolist(),
                  "dweight": w.grad.tolist(), "dbias": b.grad.tolist()})

case("small", 3, 5, 1)
case("wide", 4, 67, 2, scale=3.0, shift=10.0)
case("tiny_variance", 2, 8, 3, scale=1e-3)   # σ² ≈ 1e-6 < ε: ε matters
print(json.dumps({"torch": torch.__version__, "eps": 1e-5, "cases": cases}, indent=1))
