using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// One graph that uses every op — linear with each fused activation, standalone ReLU/tanh/sigmoid, add,
/// scale, sum, mean, MSE, cross-entropy and the weighted sum — run forward and backward in float32 on each
/// device and compared with float64 on the same (float32-rounded) inputs.
/// Tolerance: rtol 1e-4, atol 1e-5 (every value is O(1) and at most two GEMMs of inner size ≤ 9 deep, so
/// float32 rounding stays near 1e-6; the margin covers reordered sums and device exp/tanh).
/// Sizes are odd and small (batch 7 or 9, features 5…9), since ILGPU's CPU accelerator is slow.
/// </summary>
public class Float32OpParityTests
{
    private const int B = 7, In = 9, Hidden = 5, Classes = 3;

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Every_op_forward_and_backward_matches_float64(string device)
    {
        var expected = Run(TestDevices.Reference);
        var actual = Run(TestDevices.Get(device));
        Tolerance.AllClose(expected.Values, actual.Values, 1e-4, 1e-5, $"{device} forward values");
        Tolerance.AllClose(expected.Gradients, actual.Gradients, 1e-4, 1e-5, $"{device} gradients");
        Assert.Contains(expected.Gradients, g => Math.Abs(g) > 1e-3); // the comparison is not of zeros
    }

    /// <summary>Returns [every op's output…] and [every leaf's gradient…].</summary>
    private static (double[] Values, double[] Gradients) Run<T>(Backend<T> backend) where T : unmanaged, IFloatingPointIeee754<T>
    {
        static double[] Rounded(int n, int seed, double lo = -1, double hi = 1) =>
            Array.ConvertAll(Tolerance.Random(n, seed, lo, hi), v => (double)(float)v);

        using var leaves = new Leaves<T>(backend);
        var x = leaves.Make("x", B, In, Rounded(B * In, 1, -2, 2));
        var w1 = leaves.Make("w1", Hidden, In, Rounded(Hidden * In, 2, -0.5, 0.5));
        var b1 = leaves.Make("b1", 1, Hidden, Rounded(Hidden, 3));
        var w2 = leaves.Make("w2", Classes, Hidden, Rounded(Classes * Hidden, 4));
        var b2 = leaves.Make("b2", 1, Classes, Rounded(Classes, 5));
        var other = leaves.Make("other", B, Hidden, Rounded(B * Hidden, 6));
        var target = leaves.Make("target", B, Hidden, Rounded(B * Hidden, 7));
        var weights = leaves.Make("weights", 1, 5, [0.5, 1.25, -0.75, 2, 0.25]);
        var labels = leaves.Labels([0, 2, 1, 1, 0, 2, 2], Classes);

        using var tape = new Tape<T>(backend);
        var h = tape.Linear(x, w1, b1, Activation.Sigmoid);
        var t = tape.Linear(x, w1, b1, Activation.Tanh);
        var r = tape.Linear(x, w1, null, Activation.Relu);
        var mixed = tape.Add(tape.Tanh(other), tape.Scale(h, -1.5));
        var gated = tape.Sigmoid(tape.Relu(tape.Add(mixed, t)));
        var logits = tape.Linear(tape.Add(gated, r), w2, b2);
        var losses = new[]
        {
            tape.Mse(gated, target),
            tape.SoftmaxCrossEntropy(logits, labels),
            tape.Mean(tape.Relu(mixed)),
            tape.Sum(tape.Scale(t, 0.1)),
            tape.Mean(h),
        };
        var total = tape.WeightedSum(weights, losses);
        tape.Backward(total);

        double[] D(View<T> v) => Array.ConvertAll(backend.ToArray(v), double.CreateChecked);
        var values = new[] { h, t, r, mixed, gated, logits }.Concat(losses).Append(total).SelectMany(v => D(v.Data)).ToArray();
        var gradients = new[] { x, w1, b1, w2, b2, other, target, weights }.SelectMany(v => D(v.Grad)).ToArray();
        return (values, gradients);
    }
}
