# Writes dselect_torch.json: a DSelect-k gate (Hazimeh et al., NeurIPS 2021), example-conditioned, computed in PyTorch
# float64 from the reference formula (google-research/dselect_k_moe, DSelectKGate._compute_example_conditioned_expert_weights,
# SmoothStep, EntropyRegularizer), for DSelectOpTests. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_dselect_fixture.py > Tests/Fixtures/dselect_torch.json
# The module's parameter names are the engine's checkpoint names: gates.{task}.z.{weight,bias}, gates.{task}.w.{weight,bias}.
import json
import math
import torch

torch.manual_seed(12)
EPSILON = 1e-6


def smooth_step(t, gamma):
    return torch.where(t <= -gamma / 2, torch.zeros_like(t),
                       torch.where(t >= gamma / 2, torch.ones_like(t),
                                   -2 / gamma ** 3 * t ** 3 + 3 / (2 * gamma) * t + 0.5))


class DSelectGate(torch.nn.Module):
    def __init__(self, inputs, experts, k, gamma):
        super().__init__()
        self.k, self.m, self.gamma = k, int(math.log2(experts)), gamma
        self.z = torch.nn.Linear(inputs, k * self.m).double()
        self.w = torch.nn.Linear(inputs, k).double()
        codes = [[c == "1" for c in format(e, "0%db" % self.m)] for e in range(experts)]   # numpy.binary_repr: MSB first
        self.register_buffer("codes", torch.tensor(codes).unsqueeze(0).unsqueeze(0))     # [1, 1, E, m]

    def forward(self, x):
        s = smooth_step(self.z(x).reshape(-1, self.k, 1, self.m), self.gamma)           # [B, k, 1, m]
        selectors = torch.where(self.codes, s, 1 - s).prod(3)                            # [B, k, E]
        alpha = torch.softmax(self.w(x), dim=1).unsqueeze(2)                             # [B, k, 1]
        return (alpha * selectors).sum(1), selectors                                     # q [B, E]


cases = []
for name, batch, inputs, experts, k, gamma, scale, lam in [("e4k2", 5, 3, 4, 2, 1.0, 1.0, 0.1), ("e8k3", 4, 2, 8, 3, 0.5, 0.4, 0.05)]:
    gate = DSelectGate(inputs, experts, k, gamma)
    with torch.no_grad():   # spread the code logits across and beyond the band ±γ/2, so some S(z) are exactly 0 or 1
        for p in gate.parameters():
            p.copy_(torch.rand(p.shape, dtype=torch.float64) * 2 * scale - scale)
    x = torch.randn(batch, inputs, dtype=torch.float64)
    c = torch.randn(batch, experts, dtype=torch.float64)     # L = Σ c ⊙ q + λ·(1/B)·Σ −r log(r + ε)
    q, r = gate(x)
    entropy = -(r * torch.log(r + EPSILON)).sum()
    loss = (c * q).sum() + lam / batch * entropy
    loss.backward()
    z = gate.z(x).detach()
    cases.append({"name": name, "batch": batch, "inputs": inputs, "experts": experts, "k": k, "gamma": gamma, "lambda": lam,
                  "x": x.flatten().tolist(), "c": c.flatten().tolist(),
                  "params": {n: p.detach().flatten().tolist() for n, p in gate.named_parameters()},
                  "z": z.flatten().tolist(), "saturated": int(((z <= -gamma / 2) | (z >= gamma / 2)).sum()),
                  "q": q.detach().flatten().tolist(),
                  "selectors": r.detach().permute(1, 0, 2).flatten().tolist(),    # selector-major [k·B × E], the engine's layout
                  "entropy": entropy.item(), "loss": loss.item(),
                  "grads": {n: p.grad.flatten().tolist() for n, p in gate.named_parameters()}})
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
