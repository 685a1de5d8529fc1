# Writes weighted_probability_bce_torch.json: the sample-weighted masked BCE of probabilities (a product task's loss,
# docs/maths.md §19.7, §19.11) computed with PyTorch 1.13's F.binary_cross_entropy(reduction='none') (logs clamped at -100)
# and autograd, for WeightedProbabilityCrossEntropyTests. Run once with /usr/bin/python3:
#   /usr/bin/python3 Tests/Fixtures/make_weighted_probability_bce_fixture.py > Tests/Fixtures/weighted_probability_bce_torch.json
# One probability per row; label -1 = no label (mask m); one weight s_r per row: L = sum s_r m_r l_r / sum s_r m_r.
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, p, y, s):
    p = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.float64)
    st = torch.tensor(s, dtype=torch.float64)
    mask = yt >= 0
    per = F.binary_cross_entropy(p, yt.clamp(min=0), reduction="none")
    loss = (st * per)[mask].sum() / st[mask].sum()
    loss.backward()
    cases.append({"name": name, "probabilities": p.detach().tolist(), "labels": y, "row_weights": s, "loss": loss.item(), "grad": p.grad.tolist()})

g = torch.Generator().manual_seed(1419)
def probabilities(n): return torch.sigmoid(torch.randn(n, generator=g, dtype=torch.float64) * 2).tolist()
case("masked", probabilities(10), [1, 0, -1, 1, 1, 0, -1, 0, 1, 0], [1, 0.5, 3, 0, 2, 1, 1, 0.25, 1.5, 4])
case("near_the_ends", [1e-6, 0.999999, 0.3, 0.7, 0.02, 0.98], [1, 0, 1, 0, 0, 1], [2, 1, 0.5, 1, 3, 1])
case("weights_all_one", probabilities(7), [0, 1, 1, -1, 0, 1, 0], [1, 1, 1, 1, 1, 1, 1])
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
