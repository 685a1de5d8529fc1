using Engine.Data;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// The sample-weighted accuracy sums (maths §19.11) of <see cref="Backend{T}.WeightedCountCorrect"/> (softmax rows) and
/// <see cref="Backend{T}.WeightedCountCorrectBinary"/> (binary and multi-label logits): a hand-worked example on float64 and
/// on every float32 device; float32 SIMD CPU and ILGPU-CPU against a float64 host loop written here (rtol 1e-5: float32
/// weight sums, up to 30,000 rows on real devices); weights ≡ 1 give the unweighted count and the labelled count exactly;
/// bad shapes name the operand.
/// </summary>
public class WeightedAccuracyTests
{
    private const int Missing = MissingLabel.Class;

    private static (double Correct, double Mass) Softmax<T>(Backend<T> k, double[] z, int[] y, double[] s, int classes)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var zv = k.Allocate<T>(Array.ConvertAll(z, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var sv = k.Allocate<T>(Array.ConvertAll(s, T.CreateTruncating));
        using var sums = k.Allocate<T>(2);
        k.WeightedCountCorrect(zv.View, yv.View, sv.View, y.Length, classes, sums.View);
        var r = k.ToArray(sums.View);
        return (double.CreateTruncating(r[0]), double.CreateTruncating(r[1]));
    }

    private static (double Correct, double Mass) Binary<T>(Backend<T> k, double[] z, int[] y, double[] s)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var zv = k.Allocate<T>(Array.ConvertAll(z, T.CreateTruncating));
        using var yv = k.Allocate<int>(y);
        using var sv = k.Allocate<T>(Array.ConvertAll(s, T.CreateTruncating));
        using var sums = k.Allocate<T>(2);
        k.WeightedCountCorrectBinary(zv.View, yv.View, sv.View, sums.View);
        var r = k.ToArray(sums.View);
        return (double.CreateTruncating(r[0]), double.CreateTruncating(r[1]));
    }

    /// <summary>Softmax, 3 classes: rows (argmax 1, label 1, s 2), (a tie 0 = 2 → 0, label 0, s ½), (argmax 2, label 0, s 3),
    /// (no label, s 7): correct 2.5, mass 5.5. Binary k = 2: row 0 (s 2) z = (0.5, 0) y = (1, 0) both right (z = 0 is class 0);
    /// row 1 (s 3) z = (−1, 2) y = (1, no label): wrong → correct 4, mass 2 + 2 + 3 = 7.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_hand_worked_example(string device)
    {
        double[] z = [0, 3, 1, /**/ 2, -1, 2, /**/ 0, 1, 4, /**/ 9, 0, 0];
        int[] y = [1, 0, 0, Missing];
        double[] s = [2, 0.5, 3, 7];
        double[] bz = [0.5, 0, -1, 2];
        int[] by = [1, 0, 1, Missing];
        double[] bs = [2, 3];
        Assert.Equal((2.5, 5.5), Softmax(TestDevices.Reference, z, y, s, 3));
        Assert.Equal((4.0, 7.0), Binary(TestDevices.Reference, bz, by, bs));
        var k = TestDevices.Get(device);
        Assert.Equal((2.5, 5.5), Softmax(k, z, y, s, 3));
        Assert.Equal((4.0, 7.0), Binary(k, bz, by, bs));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_matches_a_float64_host_loop(string device)
    {
        var k = TestDevices.Get(device);
        var sizes = TestDevices.IsEmulated(device) ? new[] { 1, 37, 600 } : [1, 37, 600, 30_000];
        foreach (int rows in sizes)
        {
            var rng = new Random(rows);
            var s = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(rows, rows + 1, 0, 3)));
            for (int r = 0; r < rows; r += 5) s[r] = 0;                            // weight-0 rows count nothing
            const int classes = 4;
            var z = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(rows * classes, rows + 2, -2, 2)));
            var y = Enumerable.Range(0, rows).Select(_ => rng.Next(-1, classes)).ToArray();
            double correct = 0, mass = 0;
            for (int r = 0; r < rows; r++)
            {
                if (y[r] < 0) continue;
                int best = 0;
                for (int j = 1; j < classes; j++) if (z[r * classes + j] > z[r * classes + best]) best = j;
                mass += s[r];
                if (best == y[r]) correct += s[r];
            }
            var actual = Softmax(k, z, y, s, classes);
            Tolerance.AllClose([correct, mass], [actual.Correct, actual.Mass], 1e-5, 1e-6, $"softmax rows={rows} on {device}");

            const int labels = 3;
            var bz = Tolerance.ToDouble(Tolerance.ToFloat(Tolerance.Random(rows * labels, rows + 3, -2, 2)));
            var by = Enumerable.Range(0, rows * labels).Select(_ => rng.Next(-1, 2)).ToArray();
            double bc = 0, bm = 0;
            for (int i = 0; i < bz.Length; i++)
            {
                if (by[i] < 0) continue;
                bm += s[i / labels];
                if ((bz[i] > 0 ? 1 : 0) == by[i]) bc += s[i / labels];
            }
            var b = Binary(k, bz, by, s);
            Tolerance.AllClose([bc, bm], [b.Correct, b.Mass], 1e-5, 1e-6, $"binary rows={rows}×{labels} on {device}");
        }
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Weights_of_one_give_the_unweighted_counts(string device)
    {
        var k = TestDevices.Get(device);
        const int rows = 300, classes = 3;
        var rng = new Random(8);
        var z = Tolerance.Random(rows * classes, 9, -2, 2);
        var y = Enumerable.Range(0, rows).Select(_ => rng.Next(-1, classes)).ToArray();
        var ones = Enumerable.Repeat(1.0, rows).ToArray();
        using var zv = k.Allocate<float>(Tolerance.ToFloat(z));
        using var yv = k.Allocate<int>(y);
        using var count = k.Allocate<float>(1);
        k.CountCorrect(zv.View, yv.View, rows, classes, count.View);
        Assert.Equal(((double)k.Read(count.View), (double)y.Count(v => v >= 0)), Softmax(k, z, y, ones, classes));
        var bz = Tolerance.Random(rows, 10, -2, 2);
        var by = Enumerable.Range(0, rows).Select(_ => rng.Next(-1, 2)).ToArray();
        using var bzv = k.Allocate<float>(Tolerance.ToFloat(bz));
        using var byv = k.Allocate<int>(by);
        k.CountCorrectBinary(bzv.View, byv.View, count.View);
        Assert.Equal(((double)k.Read(count.View), (double)by.Count(v => v >= 0)), Binary(k, bz, by, ones));
    }

    [Fact]
    public void Bad_shapes_name_the_operand()
    {
        var k = TestDevices.Reference;
        using var z = k.Allocate<double>(6);
        using var y = k.Allocate<int>([0, 1]);
        using var two = k.Allocate<double>([1, 1]);
        using var three = k.Allocate<double>([1, 1, 1]);
        using var one = k.Allocate<double>(1);
        using var four = k.Allocate<double>(4);
        using var binaryLabels = k.Allocate<int>([0, 1, 0, 1, 0, 1]);
        Assert.Equal("rowWeights", Assert.ThrowsAny<ArgumentException>(() => k.WeightedCountCorrect(z.View, y.View, three.View, 2, 3, two.View)).ParamName);
        Assert.Equal("sums", Assert.ThrowsAny<ArgumentException>(() => k.WeightedCountCorrect(z.View, y.View, two.View, 2, 3, one.View)).ParamName);
        Assert.Equal("rowWeights", Assert.ThrowsAny<ArgumentException>(() => k.WeightedCountCorrectBinary(z.View, binaryLabels.View, four.View, two.View)).ParamName);
        Assert.Equal("sums", Assert.ThrowsAny<ArgumentException>(() => k.WeightedCountCorrectBinary(z.View, binaryLabels.View, three.View, one.View)).ParamName);
    }
}
