# Writes weighted_smooth_l1_torch.json: the sample-weighted masked L1 and Huber losses of docs/maths.md §19.11 computed with
# PyTorch 1.13's F.l1_loss / F.huber_loss(reduction='none') and autograd, for WeightedSmoothL1Tests. Run once with /usr/bin/python3:
#   /usr/bin/python3 Tests/Fixtures/make_weighted_smooth_l1_fixture.py > Tests/Fixtures/weighted_smooth_l1_torch.json
# Predictions are [rows x columns]; a NaN target = no label (mask m); one weight s_r per row:
# L = sum s_r m_i l_i / sum s_r m_i (PyTorch's weighted-mean convention, as CrossEntropyLoss(weight) 'mean').
import json
import math
import torch
import torch.nn.functional as F

cases = []
def case(name, loss_name, delta, p, t, s):
    p = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(t, dtype=torch.float64)
    st = torch.tensor(s, dtype=torch.float64)[:, None].expand_as(p)
    mask = ~torch.isnan(t)
    clean = torch.nan_to_num(t)
    per = F.l1_loss(p, clean, reduction="none") if loss_name == "l1" else F.huber_loss(p, clean, reduction="none", delta=delta)
    loss = (st * per)[mask].sum() / st[mask].sum()
    loss.backward()
    nan = lambda v: None if math.isnan(v) else v
    cases.append({"name": name, "loss_name": loss_name, "delta": delta, "columns": p.shape[1], "prediction": p.detach().flatten().tolist(),
                  "target": [nan(v) for v in t.flatten().tolist()], "row_weights": s, "loss": loss.item(), "grad": p.grad.flatten().tolist()})

g = torch.Generator().manual_seed(1914)
def values(b, k, scale=2.0): return (torch.randn(b, k, generator=g, dtype=torch.float64) * scale).tolist()
def targets(b, k, missing):
    t = torch.randn(b, k, generator=g, dtype=torch.float64)
    for (r, c) in missing: t[r, c] = float("nan")
    return t.tolist()

case("l1_one_column", "l1", 0.0, values(9, 1), targets(9, 1, [(3, 0)]), [1, 0.5, 2, 0, 1, 3, 1, 0.25, 1.5])
case("l1_three_columns", "l1", 0.0, values(7, 3), targets(7, 3, [(0, 1), (4, 0), (4, 2)]), [1, 2, 0, 0.5, 4, 1, 1.5])
case("huber_one_column", "huber", 1.0, values(10, 1), targets(10, 1, [(2, 0), (7, 0)]), [2, 1, 5, 0.5, 1, 1, 0, 3, 1, 0.125])
case("huber_two_columns_delta_0.5", "huber", 0.5, values(8, 2), targets(8, 2, [(1, 1), (6, 0)]), [1, 3, 0.5, 2, 0, 1, 1, 2.5])
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
