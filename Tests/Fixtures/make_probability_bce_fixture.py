# Writes probability_bce_torch.json: PyTorch's F.binary_cross_entropy (BCELoss on probabilities, logs clamped at -100;
# mean over the labelled entries) and its gradient with respect to the probabilities, for ProbabilityCrossEntropyTests.
# Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_probability_bce_fixture.py > Tests/Fixtures/probability_bce_torch.json
# Label -1 = no label: left out of the mean (torch sees only the labelled entries), gradient 0.
# torch 1.13 computes log(1 - p); the engine log1p(-p). They agree to 1e-16/p relative, so no case has p < 1e-3 with
# label 0 except p = 0 exactly.
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, p, y):
    p = torch.tensor(p, dtype=torch.float64, requires_grad=True)
    yt = torch.tensor(y, dtype=torch.int64)
    mask = yt >= 0
    loss = F.binary_cross_entropy(p[mask], yt[mask].to(torch.float64), reduction="mean")
    loss.backward()
    cases.append({"name": name, "probabilities": p.detach().tolist(), "labels": y,
                  "loss": loss.item(), "grad": p.grad.tolist()})

case("small", [0.5, 0.1, 0.9, 0.25, 0.75, 0.3], [1, 0, 0, 1, -1, 1])
# p = 0 and 1 against both labels: the clamp (log >= -100) and the gradient floor (p(1-p) >= 1e-12).
case("edges", [0.0, 0.0, 1.0, 1.0, 1e-30, 0.5], [0, 1, 0, 1, 1, -1])
torch.manual_seed(11)
p = torch.sigmoid(torch.randn(41, dtype=torch.float64) * 3) * torch.sigmoid(torch.randn(41, dtype=torch.float64) * 3)
p = p.clamp(min=1e-3).tolist()
y = [int(v) for v in torch.randint(-1, 2, (41,))]
case("random41", p, y)
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
