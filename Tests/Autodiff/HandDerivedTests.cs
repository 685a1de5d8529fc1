using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// Small cases worked out by hand (the derivations are in the comments), for each loss, the weighted sum and
/// a fused linear layer, on both float64 paths.
/// </summary>
public class HandDerivedTests
{
    private const double Exact = 1e-14;

    private static double[] Grad(Backend<double> backend, Tensor<double> t) => backend.ToArray(t.Grad);

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Mse_of_three_elements(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var p = leaves.Make("p", 1, 3, [1, 2, 0.5]);
        var t = leaves.Make("t", 1, 3, [0, 4, 0.5], requiresGrad: false);
        var loss = tape.Mse(p, t);
        tape.Backward(loss);
        // L = ((1−0)² + (2−4)² + 0²)/3 = 5/3;  ∂L/∂p = 2(p − t)/3 = [2/3, −4/3, 0].
        Assert.Equal(5.0 / 3, backend.Read(loss.Data), Exact);
        Tolerance.AllClose([2.0 / 3, -4.0 / 3, 0], Grad(backend, p), 0, Exact, "dp");
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Cross_entropy_of_two_rows(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        // Row 0: z = [0, 0, 0], y = 2 → p = [1/3, 1/3, 1/3], loss ln 3.
        // Row 1: z = [0, ln 2, ln 5], y = 0 → Σe^z = 8, p = [1/8, 2/8, 5/8], loss −ln(1/8) = ln 8.
        var z = leaves.Make("z", 2, 3, [0, 0, 0, 0, Math.Log(2), Math.Log(5)]);
        var labels = leaves.Labels([2, 0], classes: 3);
        var loss = tape.SoftmaxCrossEntropy(z, labels);
        tape.Backward(loss);
        // Mean over B = 2: (ln 3 + ln 8)/2 = ln(24)/2;  ∂L/∂z = (p − onehot)/2.
        Assert.Equal(Math.Log(24) / 2, backend.Read(loss.Data), Exact);
        Tolerance.AllClose([1.0 / 6, 1.0 / 6, -1.0 / 3, -7.0 / 16, 1.0 / 8, 5.0 / 16], Grad(backend, z), 0, Exact, "dz");
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Cross_entropy_is_stable_for_huge_logits(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        // z = [1000, 1000 + ln 3], y = 0: e^1000 overflows, but after the max shift p = [1/4, 3/4], loss ln 4.
        var z = leaves.Make("z", 1, 2, [1000, 1000 + Math.Log(3)]);
        var loss = tape.SoftmaxCrossEntropy(z, leaves.Labels([0], classes: 2));
        tape.Backward(loss);
        Assert.Equal(Math.Log(4), backend.Read(loss.Data), 1e-12);
        Tolerance.AllClose([-0.75, 0.75], Grad(backend, z), 0, 1e-12, "dz");
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Weighted_sum_of_the_two_losses(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var p = leaves.Make("p", 1, 3, [1, 2, 0.5]);
        var t = leaves.Make("t", 1, 3, [0, 4, 0.5], requiresGrad: false);
        var z = leaves.Make("z", 2, 3, [0, 0, 0, 0, Math.Log(2), Math.Log(5)]);
        var w = leaves.Make("w", 1, 2, [0.5, 2]);
        var total = tape.WeightedSum(w, tape.Mse(p, t), tape.SoftmaxCrossEntropy(z, leaves.Labels([2, 0], 3)));
        tape.Backward(total);
        // L = 0.5·(5/3) + 2·ln(24)/2 = 5/6 + ln 24;  ∂L/∂w = [5/3, ln(24)/2];
        // ∂L/∂p = 0.5·[2/3, −4/3, 0];  ∂L/∂z = 2·(the cross-entropy gradient above).
        Assert.Equal(5.0 / 6 + Math.Log(24), backend.Read(total.Data), Exact);
        Tolerance.AllClose([5.0 / 3, Math.Log(24) / 2], Grad(backend, w), 0, Exact, "dw");
        Tolerance.AllClose([1.0 / 3, -2.0 / 3, 0], Grad(backend, p), 0, Exact, "dp");
        Tolerance.AllClose([1.0 / 3, 1.0 / 3, -2.0 / 3, -7.0 / 8, 1.0 / 4, 5.0 / 8], Grad(backend, z), 0, Exact, "dz");
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Linear_relu_then_sum(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var x = leaves.Make("x", 1, 2, [1, 2]);
        var w = leaves.Make("w", 2, 2, [3, 4, 5, 6]);   // [out × in]
        var b = leaves.Make("b", 1, 2, [0.5, -20]);
        var y = tape.Linear(x, w, b, Activation.Relu);
        var s = tape.Sum(y);
        tape.Backward(s);
        // z = [1·3 + 2·4 + 0.5, 1·5 + 2·6 − 20] = [11.5, −3];  y = relu(z) = [11.5, 0];  s = 11.5.
        // dz = [1, 0];  dx = dz·W = [3, 4];  dW = dzᵀ·x = [[1, 2], [0, 0]];  db = [1, 0].
        Assert.Equal([11.5, 0], backend.ToArray(y.Data));
        Assert.Equal(11.5, backend.Read(s.Data));
        Assert.Equal([3.0, 4], Grad(backend, x));
        Assert.Equal([1.0, 2, 0, 0], Grad(backend, w));
        Assert.Equal([1.0, 0], Grad(backend, b));
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Mean_scale_and_add(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var a = leaves.Make("a", 2, 2, [1, 2, 3, 4]);
        var b = leaves.Make("b", 2, 2, [10, 20, 30, 40]);
        // m = mean(a + 0.5·b) = mean([6, 12, 18, 24]) = 15;  dm/da = 1/4, dm/db = 1/8.
        var m = tape.Mean(tape.Add(a, tape.Scale(b, 0.5)));
        tape.Backward(m);
        Assert.Equal(15.0, backend.Read(m.Data), Exact);
        Assert.Equal([0.25, 0.25, 0.25, 0.25], Grad(backend, a));
        Assert.Equal([0.125, 0.125, 0.125, 0.125], Grad(backend, b));
    }
}
