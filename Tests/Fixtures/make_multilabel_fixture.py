# Writes multilabel_torch.json: a multi-label head z = x·Wᵀ + b [rows × k] trained with PyTorch's nn.BCEWithLogitsLoss over
# the labelled (row, label) pairs only (label -1 = no label: left out of the mean, gradient 0), the loss and its
# gradients with respect to z, W and b in float64; and the metrics of the logits written out independently here (micro
# precision/recall/F1 of [z > 0] over the labelled pairs, the mean over the labels of the ROC AUC by pairwise counting,
# ties ½), for MultiLabelTests. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_multilabel_fixture.py > Tests/Fixtures/multilabel_torch.json
import json
import torch

def auc(scores, labels):
    pos = [s for s, l in zip(scores, labels) if l == 1]
    neg = [s for s, l in zip(scores, labels) if l == 0]
    if not pos or not neg:
        return None
    wins = sum(1.0 if p > n else 0.5 if p == n else 0.0 for p in pos for n in neg)
    return wins / (len(pos) * len(neg))

cases = []
def case(name, rows, d, k, seed, missing):
    g = torch.Generator().manual_seed(seed)
    x = torch.randn(rows, d, generator=g, dtype=torch.float64)
    w = torch.randn(k, d, generator=g, dtype=torch.float64).requires_grad_()
    b = torch.randn(k, generator=g, dtype=torch.float64).requires_grad_()
    y = (torch.rand(rows, k, generator=g) < 0.4).to(torch.int64)
    y[torch.rand(rows, k, generator=g) < missing] = -1
    z = x @ w.T + b
    z.retain_grad()
    mask = y >= 0
    loss = torch.nn.BCEWithLogitsLoss()(z[mask], y[mask].to(torch.float64))
    loss.backward()
    zs, ys = z.detach().flatten().tolist(), y.flatten().tolist()
    tp = sum(1 for s, l in zip(zs, ys) if l == 1 and s > 0)
    fp = sum(1 for s, l in zip(zs, ys) if l == 0 and s > 0)
    fn = sum(1 for s, l in zip(zs, ys) if l == 1 and s <= 0)
    p = tp / (tp + fp) if tp + fp else 0.0
    r = tp / (tp + fn) if tp + fn else 0.0
    aucs = [auc(z.detach()[:, j].tolist(), y[:, j].tolist()) for j in range(k)]
    aucs = [a for a in aucs if a is not None]
    cases.append({"name": name, "rows": rows, "d": d, "k": k, "x": x.flatten().tolist(), "w": w.detach().flatten().tolist(),
                  "b": b.detach().tolist(), "labels": ys, "z": zs, "loss": loss.item(), "dz": z.grad.flatten().tolist(),
                  "dw": w.grad.flatten().tolist(), "db": b.grad.tolist(), "precision": p, "recall": r,
                  "f1": 2 * p * r / (p + r) if p + r else 0.0, "mean_auc": sum(aucs) / len(aucs) if aucs else None})

case("small", 6, 3, 4, 1, 0.2)
case("many_labels", 40, 5, 9, 2, 0.3)
case("no_missing", 17, 4, 3, 3, 0.0)
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
