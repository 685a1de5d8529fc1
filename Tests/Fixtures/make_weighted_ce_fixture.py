# Writes weighted_ce_torch.json: PyTorch 1.13's CrossEntropyLoss(weight=w, label_smoothing=eps, ignore_index=-1) with
# 'mean' reduction, and its gradient with respect to the logits, for WeightedCrossEntropyTests. Run once with
# /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_weighted_ce_fixture.py > Tests/Fixtures/weighted_ce_torch.json
# Label -1 = no label (ignore_index). Cases with "row_weights" are the engine's extension by a weight s_r per row, built
# from torch's own per-row losses: reduction='none' gives l_r = (1-eps) w_{y_r} (-log p_{r,y_r}) + (eps/K) sum_k w_k
# (-log p_rk) (0 on ignored rows), and L = sum_r s_r l_r / sum_r s_r w_{y_r}; with s = 1 that is torch's 'mean'.
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, z, y, eps, w=None, s=None):
    z = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.int64)
    wt = None if w is None else torch.tensor(w, dtype=torch.float64)
    if s is None:
        loss = F.cross_entropy(z, yt, weight=wt, ignore_index=-1, label_smoothing=eps, reduction="mean")
    else:
        st = torch.tensor(s, dtype=torch.float64)
        per_row = F.cross_entropy(z, yt, weight=wt, ignore_index=-1, label_smoothing=eps, reduction="none")
        mask = yt >= 0
        wy = torch.ones(len(y), dtype=torch.float64) if wt is None else wt[yt.clamp(min=0)]
        loss = (st * per_row).sum() / (st * wy * mask).sum()
    loss.backward()
    cases.append({"name": name, "classes": z.shape[1], "logits": z.detach().flatten().tolist(), "labels": y,
                  "smoothing": eps, "class_weights": w, "row_weights": s, "loss": loss.item(),
                  "grad": z.grad.flatten().tolist()})

g = torch.Generator().manual_seed(5)
def logits(b, k, scale=2.0):
    return (torch.randn(b, k, generator=g, dtype=torch.float64) * scale).tolist()
def labels(b, k, missing):
    y = torch.randint(0, k, (b,), generator=g).tolist()
    for i in missing: y[i] = -1
    return y

case("k2_eps0", logits(6, 2), labels(6, 2, []), 0.0)
case("k3_eps0.1_masked", logits(8, 3), labels(8, 3, [1, 6]), 0.1)
case("k5_eps0.25", logits(10, 5), labels(10, 5, []), 0.25)
case("k7_eps1_masked", logits(9, 7), labels(9, 7, [0, 4, 8]), 1.0)
case("k4_eps0.3_large_logits", logits(6, 4, scale=40.0), labels(6, 4, [2]), 0.3)
case("k4_eps0_class_weights_masked", logits(12, 4), labels(12, 4, [3, 7]), 0.0, w=[0.5, 2.0, 1.0, 3.0])
case("k3_eps0.2_class_weights", logits(10, 3), labels(10, 3, []), 0.2, w=[1.0, 0.25, 4.0])
case("k4_eps0.15_row_weights_masked", logits(11, 4), labels(11, 4, [5]), 0.15, s=[0.5, 2, 0, 1, 3, 1, 0.25, 1, 1.5, 2, 0.75])
case("k5_eps0.1_row_and_class_weights_masked", logits(13, 5), labels(13, 5, [0, 9]), 0.1,
     w=[2.0, 1.0, 0.5, 0.0, 1.5], s=[1, 2, 0.5, 0, 1, 3, 1, 1, 0.25, 2, 1, 1, 0.5])
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
