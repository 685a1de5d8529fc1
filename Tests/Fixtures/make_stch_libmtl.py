# Reference values for Tests/Methods/StchTests.cs: LibMTL's STCH.backward (LibMTL/weighting/STCH.py at
# median-research-group/LibMTL ea8b8b7), transcribed below with its AbsWeighting plumbing reduced to what it reads
# (self.epoch, self.task_num, self.device), run under torch 1.13 in float64. The losses are leaf tensors, so their
# .grad after backward() is exactly the weight the engine puts on each loss (d objective / d L_i).
# Run: /usr/bin/python3 Tests/Fixtures/make_stch_libmtl.py
import torch

torch.set_default_dtype(torch.float64)


class STCH:
    def __init__(self, task_num):
        self.task_num, self.device, self.epoch = task_num, 'cpu', 0
        self.step = 0
        self.nadir_vector = None
        self.average_loss = 0.0
        self.average_loss_count = 0

    def backward(self, losses, **kwargs):
        self.step += 1
        mu = kwargs['STCH_mu']
        warmup_epoch = kwargs['STCH_warmup_epoch']
        if self.epoch < warmup_epoch:
            loss = torch.mul(torch.log(losses + 1e-20), torch.ones_like(losses).to(self.device)).sum()
            loss.backward()
            return
        elif self.epoch == warmup_epoch:
            loss = torch.mul(torch.log(losses + 1e-20), torch.ones_like(losses).to(self.device)).sum()
            self.average_loss += losses.detach()
            self.average_loss_count += 1
            loss.backward()
            return
        else:
            if self.nadir_vector == None:
                self.nadir_vector = self.average_loss / self.average_loss_count
            losses = torch.log(losses / self.nadir_vector + 1e-20)
            max_term = torch.max(losses.data).detach()
            reg_losses = losses - max_term
            loss = mu * torch.log(torch.sum(torch.exp(reg_losses / mu))) * self.task_num
            loss.backward()
            return


# (epoch, losses) per step: warm-up epoch 0, nadir epoch 1 (warmup_epoch = 1), STCH epochs 2 and 3.
script = [
    (0, [2.0, 0.5, 1.2]), (0, [1.8, 0.45, 1.1]),
    (1, [1.5, 0.40, 1.0]), (1, [1.3, 0.30, 0.9]),
    (2, [1.2, 0.30, 0.5]), (2, [1.0, 0.32, 0.4]),
    (3, [0.9, 0.05, 0.3]),
]
for mu in (1.0, 0.2):
    method = STCH(3)
    print(f'mu = {mu}')
    for epoch, values in script:
        method.epoch = epoch
        losses = torch.tensor(values, requires_grad=True)
        method.backward(losses, STCH_mu=mu, STCH_warmup_epoch=1)
        print(f'  epoch {epoch} L = {values}: w = [' + ', '.join(f'{g:.17g}' for g in losses.grad.tolist()) + ']')
    print('  nadir = [' + ', '.join(f'{v:.17g}' for v in method.nadir_vector.tolist()) + ']')
