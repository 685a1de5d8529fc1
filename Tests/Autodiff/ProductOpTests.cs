using Engine.Autodiff;
using Engine.Data;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The element-wise product <see cref="Ops.Product{T}"/> (ESMM's pCTCVR = pCTR·pCVR, docs/maths.md §17.6): a float64
/// central-difference check (|analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|) on the engine's CPU path and on loops, for
/// a ⊙ b, a ⊙ a and σ(z₁) ⊙ σ(z₂); a gradient derived by hand; forward and both gradients on every float32 device against
/// float64 loops (rtol 1e-6, atol 1e-7: one rounding per element); and <see cref="TaskGraph.Order"/>: ESMM's order, and
/// each invalid graph refused with the cycle or the name in the message.
/// </summary>
public class ProductOpTests
{
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void The_product_passes_a_gradient_check(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var a = leaves.Random("a", 4, 3, seed: 1);
        var b = leaves.Random("b", 4, 3, seed: 2);
        foreach (var (f, expected) in new (Func<Tape<double>, Tensor<double>>, int)[]
        {
            (tape => tape.Product(a, b), 24),
            (tape => tape.Product(a, a), 24),                                                   // a² : 2a ⊙ dy
            (tape => tape.Product(tape.Sigmoid(a), tape.Sigmoid(b)), 24),                       // ESMM's pCTR·pCVR
        })
        {
            var result = GradCheck.Run(backend, f, [a, b]);
            Assert.True(result.Passed, result.ToString());
            Assert.Equal(expected, result.Checked);
        }
    }

    /// <summary>p = σ(z₁)σ(z₂), L = Σ w ⊙ p: ∂L/∂z₁ = w·σ(z₂)·σ(z₁)(1 − σ(z₁)), ∂L/∂z₂ = w·σ(z₁)·σ(z₂)(1 − σ(z₂)). With
    /// z₁ = (0, ln 3) (σ = 1/2, 3/4), z₂ = (ln 4, 0) (σ = 4/5, 1/2), w = (1, 2): p = (0.4, 0.375), ∂L/∂z₁ = (0.8·0.25,
    /// 2·0.5·0.1875) = (0.2, 0.1875), ∂L/∂z₂ = (0.5·0.16, 2·0.75·0.25) = (0.08, 0.375).</summary>
    [Fact]
    public void A_gradient_derived_by_hand()
    {
        var backend = TestDevices.Reference;
        using var leaves = new Leaves<double>(backend);
        var z1 = leaves.Make("z1", 1, 2, [0, Math.Log(3)]);
        var z2 = leaves.Make("z2", 1, 2, [Math.Log(4), 0]);
        var w = leaves.Make("w", 1, 2, [1, 2], requiresGrad: false);
        using var tape = new Tape<double>(backend);
        var p = tape.Product(tape.Sigmoid(z1), tape.Sigmoid(z2));
        Tolerance.AllClose([0.4, 0.375], backend.ToArray(p.Data), 1e-15, 1e-15, "p");
        tape.Backward(p, w.Data);
        Tolerance.AllClose([0.2, 0.1875], backend.ToArray(z1.Grad), 1e-14, 1e-15, "∂L/∂z₁");
        Tolerance.AllClose([0.08, 0.375], backend.ToArray(z2.Grad), 1e-14, 1e-15, "∂L/∂z₂");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_forward_and_gradients_match_float64_loops(string device)
    {
        var backend = TestDevices.Get(device);
        var x = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(5 * 7, 3)));
        var y = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(5 * 7, 4)));
        var dy = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(5 * 7, 5)));
        using var leaves = new Leaves<float>(backend);
        var a = leaves.Make("a", 5, 7, x);
        var b = leaves.Make("b", 5, 7, y);
        var seed = leaves.Make("dy", 5, 7, dy, requiresGrad: false);
        using var tape = new Tape<float>(backend);
        var p = tape.Product(a, b);
        Tolerance.AllClose([.. x.Select((v, i) => v * y[i])], backend.ToArray(p.Data), 1e-6, 1e-7, $"{device} a ⊙ b");
        tape.Backward(p, seed.Data);
        Tolerance.AllClose([.. dy.Select((v, i) => v * y[i])], backend.ToArray(a.Grad), 1e-6, 1e-7, $"{device} da");
        Tolerance.AllClose([.. dy.Select((v, i) => v * x[i])], backend.ToArray(b.Grad), 1e-6, 1e-7, $"{device} db");
    }

    private static readonly TaskHead[] Heads = [TaskHead.Binary("ctr"), TaskHead.Binary("cvr"), TaskHead.Binary("ctcvr"), TaskHead.Regression("dwell")];

    [Fact]
    public void Esmm_orders_the_product_after_its_factors()
    {
        Assert.Equal([0, 1, 2, 3], TaskGraph.Esmm("ctcvr", "ctr", "cvr").Order(Heads));
        TaskHead[] reversed = [Heads[2], Heads[0], Heads[1]];                       // the product declared first
        Assert.Equal([1, 2, 0], TaskGraph.Esmm("ctcvr", "ctr", "cvr").Order(reversed));
        var towers = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["ctr"] = ["dwell"], ["cvr"] = ["ctr"] } };
        Assert.Equal([3, 0, 1, 2], towers.Order(Heads));                             // dwell, then ctr, then cvr
    }

    [Fact]
    public void A_cycle_is_refused_with_an_error_that_names_it()
    {
        var graph = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["ctr"] = ["cvr"], ["cvr"] = ["dwell"], ["dwell"] = ["ctr"] } };
        var e = Assert.Throws<ArgumentException>(() => graph.Order(Heads));
        Assert.Contains("the task graph has a cycle: ctr → cvr → dwell → ctr", e.Message);
        var viaProduct = new TaskGraph
        {
            Products = new Dictionary<string, string[]> { ["ctcvr"] = ["ctr", "cvr"] },
            Inputs = new Dictionary<string, string[]> { ["ctr"] = ["ctcvr"] },
        };
        Assert.Contains("cycle: ctr → ctcvr → ctr", Assert.Throws<ArgumentException>(() => viaProduct.Order(Heads)).Message);
        var self = new TaskGraph { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["dwell"] } };
        Assert.Contains("cycle: dwell → dwell", Assert.Throws<ArgumentException>(() => self.Order(Heads)).Message);
    }

    [Fact]
    public void Names_kinds_and_untrained_tasks_are_checked()
    {
        Assert.Contains("'click' is not a task", Assert.Throws<ArgumentException>(() => TaskGraph.Esmm("ctcvr", "click", "cvr").Order(Heads)).Message);
        Assert.Contains("'dwell' is Regression", Assert.Throws<ArgumentException>(() => TaskGraph.Esmm("ctcvr", "ctr", "dwell").Order(Heads)).Message);
        var one = new TaskGraph { Products = new Dictionary<string, string[]> { ["ctcvr"] = ["ctr"] } };
        Assert.Contains("at least two", Assert.Throws<ArgumentException>(() => one.Order(Heads)).Message);
        var orphan = new TaskGraph { Unsupervised = ["cvr"] };
        Assert.Contains("'cvr' has no loss and no product reads it", Assert.Throws<ArgumentException>(() => orphan.Order(Heads)).Message);
        Assert.Equal(TaskKind.Binary, Heads[0].Kind);
    }
}
