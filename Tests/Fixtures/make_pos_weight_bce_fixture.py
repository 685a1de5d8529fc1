# Writes pos_weight_bce_torch.json: PyTorch 1.13's BCEWithLogitsLoss(pos_weight=p) with 'mean' reduction over the labelled
# entries, and its gradient with respect to the logits, for PositiveWeightedBceTests. Run once with /usr/bin/python3:
#   /usr/bin/python3 Tests/Fixtures/make_pos_weight_bce_fixture.py > Tests/Fixtures/pos_weight_bce_torch.json
# Logits are [rows x columns]; pos_weight has one entry per column (broadcast over rows, as torch does). Label -1 = no
# label: torch sees only the labelled entries (a masked select keeps each entry's column weight). Cases with
# "row_weights" are the engine's extension: torch's reduction='none' losses l_i, L = sum s_r l_i / sum s_r (labelled i).
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, z, y, p, s=None):
    z = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.int64)
    pw = torch.tensor(p, dtype=torch.float64).expand_as(z)
    mask = yt >= 0
    if s is None:
        loss = F.binary_cross_entropy_with_logits(z[mask], yt[mask].to(torch.float64), pos_weight=pw[mask], reduction="mean")
    else:
        st = torch.tensor(s, dtype=torch.float64)[:, None].expand_as(z)
        per = F.binary_cross_entropy_with_logits(z, yt.clamp(min=0).to(torch.float64), pos_weight=pw, reduction="none")
        loss = (st * per)[mask].sum() / st[mask].sum()
    loss.backward()
    cases.append({"name": name, "columns": z.shape[1], "logits": z.detach().flatten().tolist(), "labels": yt.flatten().tolist(),
                  "pos_weight": p, "row_weights": s, "loss": loss.item(), "grad": z.grad.flatten().tolist()})

g = torch.Generator().manual_seed(8)
def logits(b, k, scale=2.0): return (torch.randn(b, k, generator=g, dtype=torch.float64) * scale).tolist()
def labels(b, k, missing):
    y = torch.randint(0, 2, (b, k), generator=g)
    for (r, c) in missing: y[r, c] = -1
    return y.tolist()

case("binary_p3", logits(9, 1), labels(9, 1, []), [3.0])
case("binary_p0.25_masked", logits(10, 1), labels(10, 1, [(2, 0), (7, 0)]), [0.25])
case("binary_p1_large_logits", logits(8, 1, scale=40.0), labels(8, 1, [(3, 0)]), [1.0])
case("multilabel3_masked", logits(7, 3), labels(7, 3, [(0, 1), (4, 0), (4, 2)]), [2.0, 0.5, 5.0])
case("multilabel2_p0", logits(6, 2), labels(6, 2, [(1, 1)]), [0.0, 1.5])
case("binary_p2_row_weights_masked", logits(9, 1), labels(9, 1, [(5, 0)]), [2.0], s=[1, 0.5, 2, 0, 1, 3, 1, 0.25, 1.5])
case("multilabel3_row_weights", logits(6, 3), labels(6, 3, [(2, 2)]), [1.5, 1.0, 0.5], s=[2, 1, 0, 0.5, 1, 3])
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
