# Writes smoothed_bce_torch.json: binary cross-entropy with logits and label smoothing ε, for SmoothedBceTests. torch 1.13's
# BCEWithLogitsLoss has no label_smoothing argument, so the smoothed targets are passed in, Keras' convention
# (tf.keras.losses.BinaryCrossentropy(label_smoothing=ε)): y' = y·(1 − ε) + ε/2; 'mean' over the labelled entries, with
# pos_weight where a case has one. Run once with /usr/bin/python3:
#   /usr/bin/python3 Tests/Fixtures/make_smoothed_bce_fixture.py > Tests/Fixtures/smoothed_bce_torch.json
# Label -1 = no label: torch sees only the labelled entries. Cases with "row_weights" are the engine's extension: torch's
# reduction='none' losses l_i, L = sum s_r l_i / sum s_r over the labelled i.
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, z, y, eps, p=None, s=None):
    z = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.int64)
    target = yt.clamp(min=0).to(torch.float64) * (1 - eps) + eps / 2
    pw = None if p is None else torch.tensor(p, dtype=torch.float64).expand_as(z)
    mask = yt >= 0
    if s is None:
        loss = F.binary_cross_entropy_with_logits(z[mask], target[mask], pos_weight=None if pw is None else pw[mask], reduction="mean")
    else:
        st = torch.tensor(s, dtype=torch.float64)[:, None].expand_as(z)
        per = F.binary_cross_entropy_with_logits(z, target, pos_weight=pw, reduction="none")
        loss = (st * per)[mask].sum() / st[mask].sum()
    loss.backward()
    cases.append({"name": name, "columns": z.shape[1], "logits": z.detach().flatten().tolist(), "labels": yt.flatten().tolist(),
                  "smoothing": eps, "pos_weight": p if p is not None else [1.0] * z.shape[1], "row_weights": s,
                  "loss": loss.item(), "grad": z.grad.flatten().tolist()})

g = torch.Generator().manual_seed(14)
def logits(b, k, scale=2.0): return (torch.randn(b, k, generator=g, dtype=torch.float64) * scale).tolist()
def labels(b, k, missing):
    y = torch.randint(0, 2, (b, k), generator=g)
    for (r, c) in missing: y[r, c] = -1
    return y.tolist()

case("binary_eps0.1", logits(9, 1), labels(9, 1, []), 0.1)
case("binary_eps0.2_masked", logits(10, 1), labels(10, 1, [(2, 0), (7, 0)]), 0.2)
case("binary_eps1_half_targets", logits(8, 1), labels(8, 1, [(3, 0)]), 1.0)
case("binary_eps0.05_large_logits", logits(8, 1, scale=40.0), labels(8, 1, [(1, 0)]), 0.05)
case("binary_eps0.1_p3", logits(9, 1), labels(9, 1, [(4, 0)]), 0.1, p=[3.0])
case("binary_eps0.3_row_weights_masked", logits(9, 1), labels(9, 1, [(5, 0)]), 0.3, s=[1, 0.5, 2, 0, 1, 3, 1, 0.25, 1.5])
print(json.dumps({"torch": torch.__version__, "convention": "y' = y(1 - eps) + eps/2", "cases": cases}, indent=1))
