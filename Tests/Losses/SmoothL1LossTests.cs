using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Autodiff;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Losses;

/// <summary>
/// Masked L1 and Huber(δ) (the smooth-L1 kernels, NaN target = no label): values from PyTorch's <c>F.l1_loss</c> and
/// <c>F.huber_loss</c> (torch 1.13, float64; the script is in the comment below), the piecewise definitions written here,
/// float32 parity against float64 on every device, the unlabelled batch, and float64 central differences through the tape.
/// Tolerances: float64 rtol 1e-12; float32 vs float64 rtol 1e-5, atol 1e-6.
/// </summary>
public class SmoothL1LossTests
{
    // p = [0, 1, −2, 3.5, 0.2], t = [0.5, −1, −2.2, 0, 0.2] (torch 1.13, float64):
    //   /usr/bin/python3 -c "import torch, torch.nn.functional as F; p=torch.tensor([0.,1,-2,3.5,.2],dtype=torch.float64,requires_grad=True);
    //   t=torch.tensor([.5,-1,-2.2,0,.2],dtype=torch.float64); l=F.huber_loss(p,t,delta=1.5); l.backward(); print(l.item(), p.grad)"
    private static readonly double[] P = [0, 1, -2, 3.5, 0.2], Tg = [0.5, -1, -2.2, 0, 0.2];

    public static TheoryData<double, double, double[]> TorchCases => new()
    {
        { 0, 1.24, [-0.2, 0.2, 0.2, 0.2, 0.0] },                                       // F.l1_loss
        { 1.5, 1.2289999999999999, [-0.1, 0.30000000000000004, 0.040000000000000036, 0.30000000000000004, 0.0] }, // F.huber_loss(δ=1.5)
        { 0.3, 0.337, [-0.06, 0.06, 0.040000000000000036, 0.06, 0.0] },                  // F.huber_loss(δ=0.3)
    };

    /// <summary>δ = 0: L1; otherwise Huber(δ) (scale δ on smooth-L1 with β = δ).</summary>
    private static (double Loss, double Count, double[] D) Run<T>(Backend<T> k, double[] p, double[] t, double delta, double upstream, double[]? dStart)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var pv = k.Allocate<T>(Array.ConvertAll(p, T.CreateTruncating));
        using var tv = k.Allocate<T>(Array.ConvertAll(t, T.CreateTruncating));
        using var u = k.Allocate<T>([T.CreateTruncating(upstream)]);
        using var loss = k.Allocate<T>(1);
        using var count = k.Allocate<T>(1);
        using var d = k.Allocate<T>(Array.ConvertAll(dStart ?? new double[p.Length], T.CreateTruncating));
        T beta = T.CreateTruncating(delta), scale = delta == 0 ? T.One : beta;
        k.MaskedSmoothL1Forward(pv.View, tv.View, beta, scale, loss.View, count.View);
        k.MaskedSmoothL1Backward(pv.View, tv.View, beta, scale, count.View, u.View, d.View, accumulate: dStart is not null);
        return (double.CreateTruncating(k.Read(loss.View)), double.CreateTruncating(k.Read(count.View)), Array.ConvertAll(k.ToArray(d.View), double.CreateTruncating));
    }

    /// <summary>The definitions: L1 |d|, sign(d); Huber ½d² (|d| ≤ δ) or δ(|d| − ½δ), gradient clamp(d, −δ, δ).</summary>
    private static (double Loss, double[] D) Definition(double[] p, double[] t, double delta)
    {
        int n = t.Count(v => !double.IsNaN(v));
        double loss = 0;
        var d = new double[p.Length];
        for (int i = 0; i < p.Length; i++)
        {
            if (double.IsNaN(t[i])) continue;
            double e = p[i] - t[i];
            loss += delta == 0 ? Math.Abs(e) : Math.Abs(e) <= delta ? 0.5 * e * e : delta * (Math.Abs(e) - 0.5 * delta);
            d[i] = (delta == 0 ? Math.Sign(e) : Math.Clamp(e, -delta, delta)) / Math.Max(n, 1);
        }
        return (loss / Math.Max(n, 1), d);
    }

    private static double[] Targets(int n, int seed)
    {
        var rng = new Random(seed);
        var t = Tolerance.Random(n, seed + 100);
        for (int i = 0; i < n; i++) if (rng.NextDouble() < 0.3) t[i] = double.NaN;
        return t;
    }

    [Theory]
    [MemberData(nameof(TorchCases))]
    public void Float64_matches_pytorch(double delta, double loss, double[] grad)
    {
        foreach (var backend in new Backend<double>[] { TestDevices.Reference, Float64Backends.Get(Float64Backends.Loops) })
        {
            var actual = Run(backend, P, Tg, delta, 1, null);
            Assert.Equal(5, actual.Count);
            Tolerance.AllClose([loss], [actual.Loss], 1e-12, 0, $"δ={delta} loss");
            Tolerance.AllClose(grad, actual.D, 1e-12, 1e-15, $"δ={delta} dp");
        }
    }

    [Theory]
    [InlineData(0.0, 9)]
    [InlineData(0.7, 9)]
    [InlineData(0.0, 70_000)]
    [InlineData(1.3, 70_000)]
    public void Float64_matches_the_definitions(double delta, int n)
    {
        var p = Array.ConvertAll(Tolerance.Random(n, n), v => 3 * v);
        var t = Targets(n, n + 1);
        var expected = Definition(p, t, delta);
        var actual = Run(TestDevices.Reference, p, t, delta, 1, null);
        Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-11, 0, "loss");
        Tolerance.AllClose(expected.D, actual.D, 1e-11, 1e-16, "dp");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_float64_on_every_device(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (double delta in new[] { 0.0, 0.5 })
            foreach (int n in TestDevices.IsEmulated(device) ? new[] { 1, 33, 257 } : [1, 33, 257, 70_000])
            {
                var p = Array.ConvertAll(Tolerance.Random(n, n + 2), v => 2 * v);
                var t = Targets(n, n + 3);
                var start = Tolerance.Random(n, n + 4);
                var expected = Run(TestDevices.Reference, p, t, delta, 0.9, start);
                var actual = Run(backend, p, t, delta, 0.9, start);
                Assert.Equal(expected.Count, actual.Count);
                Tolerance.AllClose([expected.Loss], [actual.Loss], 1e-5, 1e-6, $"loss δ={delta} n={n}");
                Tolerance.AllClose(expected.D, actual.D, 1e-5, 1e-6, $"dp δ={delta} n={n}");
            }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_batch_without_labels_gives_zero_loss_and_exactly_zero_gradient(string device)
    {
        var k = TestDevices.Get(device);
        foreach (double delta in new[] { 0.0, 1.0 })
        {
            var r = Run(k, [1, 2, 3], [double.NaN, double.NaN, double.NaN], delta, 1, null);
            Assert.Equal(0, r.Loss);
            Assert.Equal(0, r.Count);
            Assert.All(r.D, v => Assert.Equal(0, v));
        }
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_l1_and_huber(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var p = leaves.Random("p", 4, 3, seed: 31);
        var t = leaves.Make("t", 4, 3, Targets(12, 32), requiresGrad: false);
        var l1 = GradCheck.Run(backend, tape => tape.MaskedL1(p, t), [p]);
        Assert.True(l1.Passed, l1.ToString());
        var huber = GradCheck.Run(backend, tape => tape.MaskedHuber(p, t, 0.4), [p]);
        Assert.True(huber.Passed, huber.ToString());
        Assert.Equal(12, huber.Checked);
    }
}
