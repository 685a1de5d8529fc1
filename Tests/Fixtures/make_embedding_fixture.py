# Writes embedding_torch.json: PyTorch's nn.Embedding lookup (F.embedding) and the gradient of its weight for a fixed
# upstream gradient, in float64, with repeated indices (the scatter-add sums them) and rows no index names (gradient 0),
# for EmbeddingTests. Run once with /usr/bin/python3 (torch 1.13):
#   /usr/bin/python3 Tests/Fixtures/make_embedding_fixture.py > Tests/Fixtures/embedding_torch.json
import json
import torch
import torch.nn.functional as F

cases = []
def case(name, count, dim, rows, seed):
    g = torch.Generator().manual_seed(seed)
    weight = torch.randn(count, dim, generator=g, dtype=torch.float64).requires_grad_()
    index = torch.randint(0, count, (rows,), generator=g)
    index[0] = index[-1] = count - 1          # the reserved last row, twice
    dy = torch.randn(rows, dim, generator=g, dtype=torch.float64)
    y = F.embedding(index, weight)
    y.backward(dy)
    cases.append({"name": name, "count": count, "dim": dim, "rows": rows, "index": index.tolist(),
                  "weight": weight.detach().flatten().tolist(), "dy": dy.flatten().tolist(),
                  "y": y.detach().flatten().tolist(), "dweight": weight.grad.flatten().tolist()})

case("small", 5, 3, 8, 1)
case("repeats", 4, 16, 40, 2)      # 40 rows into 4 table rows: every row a sum of about 10
case("sparse", 50, 4, 6, 3)        # most table rows get no gradient
print(json.dumps({"torch": torch.__version__, "cases": cases}, indent=1))
