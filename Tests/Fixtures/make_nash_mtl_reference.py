# Values of NashMtlTests.Matches_the_reference_NashMTL_in_PyTorch: run with /usr/bin/python3 (PyTorch 1.13), float64.
# The reference NashMTL (AvivNavon/nash-mtl methods/weight_methods.py; LibMTL/weighting/Nash_MTL.py is the same code):
# get_weighted_loss, solve_optimization, _stop_criteria, _calc_phi_alpha_linearization, _init_optim_problem and backward
# with their lines kept, on a shared parameter theta with losses L_t = g_t . theta + c_t (so grad L_t = g_t exactly).
# cvxpy is not installed here (nor scipy), so the one cvxpy call, prob.solve(solver=cp.ECOS, warm_start=True,
# max_iters=100), is replaced by `solve_subproblem`: the same convex problem (the reference's objective and constraints,
# written below as torch functions) solved by a log-barrier interior-point method in float64 (Newton with backtracking
# per barrier weight, weight x4 until the duality-gap bound T/t is below 1e-13 of the objective). It returns the unique
# optimum, as ECOS would to its tolerances (1e-8); where the problem is unbounded or infeasible it sets the value to
# None, as cvxpy does (the reference's stop test then keeps the previous alpha). A barrier method needs a strictly
# feasible start: the reference's previous alpha scaled up when G alpha_prev > 0, else 2*alpha_star with alpha_star the
# solution of G alpha = 1/alpha by cyclic coordinate minimisation (a different algorithm from the engine's Newton);
# the start does not change the optimum of the convex problem.
import numpy as np
import torch
torch.set_default_dtype(torch.float64)


class Param:
    def __init__(self, value=None):
        self.value = value


def coordinate_solution(gtg):
    a = 1 / np.sqrt(np.diag(gtg))
    for _ in range(200000):
        old = a.copy()
        for i in range(len(a)):
            s = gtg[i] @ a - gtg[i, i] * a[i]
            a[i] = (-s + np.sqrt(s * s + 4 * gtg[i, i])) / (2 * gtg[i, i])
        if np.abs(a - old).max() <= 1e-15 * np.abs(a).max():
            break
    return a


class NashMTL:
    def __init__(self, n_tasks, max_norm=1.0, update_weights_every=1, optim_niter=20):
        self.n_tasks = n_tasks
        self.optim_niter = optim_niter
        self.update_weights_every = update_weights_every
        self.max_norm = max_norm
        self.prvs_alpha_param = None
        self.normalization_factor = np.ones((1,))
        self.init_gtg = self.init_gtg = np.eye(self.n_tasks)
        self.step = 0.0
        self.prvs_alpha = np.ones(self.n_tasks, dtype=np.float32)

    def _stop_criteria(self, gtg, alpha_t):
        return (
            (self.alpha_param.value is None)
            or (np.linalg.norm(gtg @ alpha_t - 1 / (alpha_t + 1e-10)) < 1e-3)
            or (np.linalg.norm(self.alpha_param.value - self.prvs_alpha_param.value) < 1e-6)
        )

    def solve_optimization(self, gtg):
        self.G_param.value = gtg
        self.normalization_factor_param.value = self.normalization_factor
        alpha_t = self.prvs_alpha
        for _ in range(self.optim_niter):
            self.alpha_param.value = alpha_t
            self.prvs_alpha_param.value = alpha_t
            try:
                self.solve_subproblem()
            except Exception as e:
                print("  (the barrier method failed: %s; the reference's except path keeps the previous alpha)" % e)
                self.alpha_param.value = self.prvs_alpha_param.value
            if self._stop_criteria(gtg, alpha_t):
                break
            alpha_t = self.alpha_param.value
        if alpha_t is not None:
            self.prvs_alpha = alpha_t
        return self.prvs_alpha

    def _init_optim_problem(self):
        self.alpha_param = Param()
        self.prvs_alpha_param = Param(self.prvs_alpha)
        self.G_param = Param(self.init_gtg)
        self.normalization_factor_param = Param(np.array([1.0]))

    # The cvxpy problem of _init_optim_problem / _calc_phi_alpha_linearization, as functions of alpha.
    def objective(self, alpha):
        G = torch.tensor(self.G_param.value); prv = torch.tensor(np.asarray(self.prvs_alpha_param.value, dtype=np.float64))
        nf = float(self.normalization_factor_param.value[0])
        G_prvs_alpha = G @ prv
        prvs_phi_tag = 1 / prv + (1 / G_prvs_alpha) @ G
        phi_alpha = prvs_phi_tag @ (alpha - prv)
        return (G @ alpha).sum() + phi_alpha / nf

    def constraints(self, alpha):   # each must be <= 0
        G = torch.tensor(self.G_param.value); nf = float(self.normalization_factor_param.value[0])
        return -torch.log(alpha * nf) - torch.log(G @ alpha)

    def solve_subproblem(self):
        G = self.G_param.value; nf = float(self.normalization_factor_param.value[0])
        prv = np.asarray(self.prvs_alpha_param.value, dtype=np.float64)
        if (G @ prv > 0).all():
            start = prv * 2 * np.max(1 / np.sqrt(prv * nf * (G @ prv)))
        else:
            start = 2 * coordinate_solution(G * nf)
        a = torch.tensor(start)
        T = len(start); t = 1.0

        def barrier(x):
            if not ((x > 0).all() and ((torch.tensor(G) @ x) > 0).all()):
                return torch.tensor(float("inf"))
            c = self.constraints(x)
            if not (c < 0).all():
                return torch.tensor(float("inf"))
            return t * self.objective(x) - torch.log(-c).sum()

        for _ in range(80):
            for _ in range(200):
                g = torch.autograd.functional.jacobian(barrier, a)
                H = torch.autograd.functional.hessian(barrier, a)
                d = -torch.linalg.solve(H, g)
                decrement = float(-(g @ d))
                if decrement / 2 <= 1e-15:
                    break
                s, f0 = 1.0, barrier(a)
                while barrier(a + s * d) > f0 - 0.25 * s * decrement:
                    s *= 0.5
                    if s < 1e-30:
                        raise RuntimeError("line search")
                a = a + s * d
                if float(a.abs().max()) > 1e8 * float(np.abs(start).max()):
                    self.alpha_param.value = None   # unbounded: cvxpy leaves the value None
                    return
            if T / t < 1e-13 * max(1.0, abs(float(self.objective(a)))):
                break
            t *= 4
        self.alpha_param.value = a.numpy()

    def get_weighted_loss(self, losses, shared_parameters):
        extra_outputs = dict()
        if self.step == 0:
            self._init_optim_problem()
        if (self.step % self.update_weights_every) == 0:
            self.step += 1
            grads = {}
            for i, loss in enumerate(losses):
                g = list(torch.autograd.grad(loss, shared_parameters, retain_graph=True))
                grad = torch.cat([torch.flatten(grad) for grad in g])
                grads[i] = grad
            G = torch.stack(tuple(v for v in grads.values()))
            GTG = torch.mm(G, G.t())
            self.normalization_factor = torch.norm(GTG).detach().cpu().numpy().reshape((1,))
            GTG = GTG / self.normalization_factor.item()
            alpha = self.solve_optimization(GTG.cpu().detach().numpy())
            alpha = torch.from_numpy(alpha)
        else:
            self.step += 1
            alpha = self.prvs_alpha
        weighted_loss = sum([losses[i] * alpha[i] for i in range(len(alpha))])
        extra_outputs["weights"] = alpha
        return weighted_loss, extra_outputs

    def backward(self, losses, shared_parameters):
        loss, extra_outputs = self.get_weighted_loss(losses=losses, shared_parameters=shared_parameters)
        loss.backward()
        if self.max_norm > 0:
            torch.nn.utils.clip_grad_norm_(shared_parameters, self.max_norm)
        return loss, extra_outputs


g1 = np.array([[0.9, -0.4, 0.3, -1.2, 0.05, 0.7],
               [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7],
               [0.1, 0.5, -0.9, 0.3, 0.20, 0.7]])
steps = [g1,
         g1 * np.array([[2.0], [0.5], [1.0]]),                       # scaled rows: alpha_i scales by 1/c_i
         np.array([[0.9, -0.4, 0.3, -1.2, 0.05, 0.7],               # task 1 conflicting with task 0 (cos ~ -0.75)
                   [-0.8, 0.2, -0.1, 0.9, 0.10, -0.3],
                   [0.1, 0.5, -0.9, 0.3, 0.20, 0.7]])]
c = torch.tensor([0.8, 1.7, 0.3])


def fmt(v):
    return "[" + ", ".join(repr(float(x)) for x in v) + "]"


for max_norm, every in [(1.0, 1), (5.0, 1), (1.0, 2)]:
    method = NashMTL(3, max_norm=max_norm, update_weights_every=every)
    theta = torch.zeros(6, requires_grad=True)
    print(f"max_norm={max_norm} update_weights_every={every}")
    for s, g in enumerate(steps):
        theta.grad = None
        losses = torch.tensor(g) @ theta + c
        _, extra = method.backward(losses, [theta])
        a = np.asarray(extra["weights"], dtype=np.float64)
        gtg = g @ g.T
        print(f"  step {s}: alpha {fmt(a)}")
        print(f"          shared grad {fmt(theta.grad)}")
        print(f"          max |alpha*(GTG alpha) - 1| {np.abs(a * (gtg @ a) - 1).max():.3e}")
