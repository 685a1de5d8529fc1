using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The column concatenation <see cref="Ops.ConcatColumns{T}"/> and <see cref="Ops.Detach{T}"/> (a tower reading another task's
/// prediction, docs/maths.md §17.7) and their kernel <see cref="Backend{T}.CopyColumnBlock"/>: a float64 central-difference
/// check (|analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|) on the engine's CPU path and on loops, through a dense layer that
/// reads the concatenation and of a part read twice (its two gradients add); the kernel on every float32 device (SIMD CPU,
/// ILGPU CPU accelerator) against the float64 reference <see cref="ColumnBlockReference"/> with offsets, overwriting and
/// accumulating (a copy is exact: tolerance 0 when overwriting; one float32 addition when accumulating, rtol 1e-7); the op's
/// forward and gradients in float32 against the float64 loops (rtol 1e-6, atol 1e-7); a detached part receives no gradient,
/// and blocks that do not fit are refused naming the operand.
/// </summary>
public class ConcatColumnsOpTests
{
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void The_concatenation_passes_a_gradient_check(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var h = leaves.Random("h", 5, 4, seed: 1);
        var a = leaves.Random("a", 5, 1, seed: 2);
        var b = leaves.Random("b", 5, 2, seed: 3);
        var w = leaves.Random("w", 3, 7, seed: 4);
        foreach (var (f, expected) in new (Func<Tape<double>, Tensor<double>>, int)[]
        {
            (tape => tape.ConcatColumns(h, a, b), 56),                                                            // every input, used or not
            (tape => tape.Linear(tape.ConcatColumns(h, tape.Sigmoid(a), b), w, null, Activation.Tanh), 56),  // a tower's first layer
            (tape => tape.ConcatColumns(a, h, a), 56),                                                           // a twice: both blocks
        })
        {
            var result = GradCheck.Run(backend, f, [h, a, b, w]);
            Assert.True(result.Passed, result.ToString());
            Assert.Equal(expected, result.Checked);
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32WithSwitch), MemberType = typeof(TestDevices))]
    public void The_kernel_matches_the_float64_reference(string device, bool accumulate)
    {
        var backend = TestDevices.Get(device);
        var block = new ColumnBlock(Rows: 7, XCols: 5, XOffset: 2, YCols: 9, YOffset: 4, Width: 3, accumulate);
        var x = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(7 * 5, 11)));
        var y = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(7 * 9, 12)));
        var expected = (double[])y.Clone();
        ColumnBlockReference.Copy(x, expected, block);
        using var xs = backend.Allocate<float>(Tolerance.ToFloat(x));
        using var ys = backend.Allocate<float>(Tolerance.ToFloat(y));
        backend.CopyColumnBlock(xs.View, ys.View, block);
        var actual = Tolerance.ToDouble(backend.ToArray(ys.View));
        Tolerance.AllClose(expected, actual, accumulate ? 1e-7 : 0, 0, $"{device} block (accumulate: {accumulate})");
        Assert.Equal(y[0], actual[0]);                       // outside the block: untouched
        Assert.NotEqual(y[4], actual[4]);                    // inside: written
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_forward_and_gradients_match_float64_loops(string device)
    {
        var (values, gradients) = Run(TestDevices.Get(device));
        var (expectedValues, expectedGradients) = Run(Float64Backends.Get(Float64Backends.Loops));
        Tolerance.AllClose(expectedValues, values, 1e-6, 1e-7, $"{device} [h | a | h]");
        Tolerance.AllClose(expectedGradients, gradients, 1e-6, 1e-7, $"{device} dh, da");
        Assert.Contains(expectedGradients, g => Math.Abs(g) > 0.1);
    }

    /// <summary>y = [h | a | h] seeded with dy: dh = dy's first block + its third, da = its second.</summary>
    private static (double[] Values, double[] Gradients) Run<T>(Backend<T> backend) where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var leaves = new Leaves<T>(backend);
        var h = leaves.Make("h", 6, 3, Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(18, 21))));
        var a = leaves.Make("a", 6, 1, Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(6, 22))));
        var seed = leaves.Make("dy", 6, 7, Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(42, 23))), requiresGrad: false);
        using var tape = new Tape<T>(backend);
        var y = tape.ConcatColumns(h, a, h);
        tape.Backward(y, seed.Data);
        static double[] D(T[] v) => Array.ConvertAll(v, x => double.CreateChecked(x));
        return (D(backend.ToArray(y.Data)), [.. D(backend.ToArray(h.Grad)), .. D(backend.ToArray(a.Grad))]);
    }

    [Fact]
    public void A_detached_part_gets_no_gradient_and_the_others_theirs()
    {
        var backend = TestDevices.Reference;
        using var leaves = new Leaves<double>(backend);
        var h = leaves.Make("h", 2, 2, [1, 2, 3, 4]);
        var a = leaves.Make("a", 2, 1, [5, 6]);
        var seed = leaves.Make("dy", 2, 3, [0.5, -1, 2, 3, 0.25, -4], requiresGrad: false);
        using var tape = new Tape<double>(backend);
        var y = tape.ConcatColumns(h, tape.Detach(a));
        Assert.Equal([1, 2, 5, 3, 4, 6], backend.ToArray(y.Data));
        tape.Backward(y, seed.Data);
        Assert.Equal([0.5, -1, 3, 0.25], backend.ToArray(h.Grad));
        Assert.Equal([0, 0], backend.ToArray(a.Grad));
    }

    [Fact]
    public void Blocks_that_do_not_fit_and_mismatched_rows_are_refused()
    {
        var backend = TestDevices.Reference;
        using var x = backend.Allocate<double>(12);
        using var y = backend.Allocate<double>(12);
        Assert.Contains("source columns [2, 5)", Assert.Throws<ArgumentOutOfRangeException>(() => backend.CopyColumnBlock(x.View, y.View, new ColumnBlock(3, 4, 2, 4, 0, 3))).Message);
        Assert.Contains("destination columns [3, 5)", Assert.Throws<ArgumentOutOfRangeException>(() => backend.CopyColumnBlock(x.View, y.View, new ColumnBlock(3, 4, 0, 4, 3, 2))).Message);
        Assert.Throws<ArgumentException>(() => backend.CopyColumnBlock(x.View, x.View, new ColumnBlock(3, 4, 0, 4, 0, 2)));
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        Assert.Contains("has 3 rows", Assert.Throws<ArgumentException>(() => tape.ConcatColumns(leaves.Random("p", 2, 2, 1), leaves.Random("q", 3, 1, 2))).Message);
    }
}
