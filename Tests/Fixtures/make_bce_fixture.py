# Writes bce_torch.json: PyTorch's F.binary_cross_entropy_with_logits (mean over the labelled entries) and its
# gradient with respect to the logits, for BinaryCrossEntropyTests. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_bce_fixture.py > Tests/Fixtures/bce_torch.json
# Label -1 = no label: those entries are left out of the mean (torch sees only the labelled ones) and get gradient 0.
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, z, y):
    z = torch.tensor(z, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.int64)
    mask = yt >= 0
    loss = F.binary_cross_entropy_with_logits(z[mask], yt[mask].to(torch.float64), reduction="mean")
    loss.backward()
    cases.append({"name": name, "logits": z.detach().tolist(), "labels": y,
                  "loss": loss.item(), "grad": z.grad.tolist(),
                  "sigmoid": torch.sigmoid(z.detach()).tolist()})

case("small", [0.0, 1.5, -2.0, 0.25, -0.75], [1, 0, 0, 1, -1])
case("extreme", [40.0, -40.0, 100.0, -100.0, 17.0, -17.0, 1e-3, -1e-3], [0, 1, 1, 0, 1, 0, -1, 1])
torch.manual_seed(7)
z = (torch.randn(37, dtype=torch.float64) * 6).tolist()
y = [int(v) for v in torch.randint(-1, 2, (37,))]
case("random37", z, y)
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
