# Writes weighted_mse_torch.json: the sample-weighted masked MSE of docs/maths.md §19.11 computed with PyTorch 1.13's
# F.mse_loss(reduction='none') and autograd, for WeightedMseTests. Run once with /usr/bin/python3:
#   /usr/bin/python3 Tests/Fixtures/make_weighted_mse_fixture.py > Tests/Fixtures/weighted_mse_torch.json
# Predictions are [rows x columns]; a NaN target = no label (mask m); one weight s_r per row (PyTorch's weighted-mean
# convention, as CrossEntropyLoss(weight) 'mean'): L = sum s_r m_i l_i / sum s_r m_i, l_i = (p_i - t_i)^2.
import json
import math
import torch
import torch.nn.functional as F

cases = []
def case(name, p, t, s):
    p = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    t = torch.tensor(t, dtype=torch.float64)
    st = torch.tensor(s, dtype=torch.float64)[:, None].expand_as(p)
    mask = ~torch.isnan(t)
    per = F.mse_loss(p, torch.nan_to_num(t), reduction="none")
    loss = (st * per)[mask].sum() / st[mask].sum()
    loss.backward()
    nan = lambda v: None if math.isnan(v) else v
    cases.append({"name": name, "columns": p.shape[1], "prediction": p.detach().flatten().tolist(),
                  "target": [nan(v) for v in t.flatten().tolist()], "row_weights": s, "loss": loss.item(), "grad": p.grad.flatten().tolist()})

g = torch.Generator().manual_seed(14)
def values(b, k, scale=2.0): return (torch.randn(b, k, generator=g, dtype=torch.float64) * scale).tolist()
def targets(b, k, missing):
    t = torch.randn(b, k, generator=g, dtype=torch.float64)
    for (r, c) in missing: t[r, c] = float("nan")
    return t.tolist()

case("one_column", values(9, 1), targets(9, 1, []), [1, 0.5, 2, 0, 1, 3, 1, 0.25, 1.5])
case("one_column_masked", values(10, 1), targets(10, 1, [(2, 0), (7, 0)]), [2, 1, 5, 0.5, 1, 1, 0, 3, 1, 0.125])
case("three_columns_masked", values(7, 3), targets(7, 3, [(0, 1), (4, 0), (4, 2)]), [1, 2, 0, 0.5, 4, 1, 1.5])
case("weights_all_one", values(6, 2), targets(6, 2, [(1, 1)]), [1, 1, 1, 1, 1, 1])
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
