using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using static Engine.Tests.Optimizers.CombinationTestSupport;

namespace Engine.Tests.Optimizers;

/// <summary>Weighted sum and orthogonal projection (always applied) against hand-derived answers and float64 identities.</summary>
public class CombinationProjectionTests
{
    [Fact]
    public void Sum_is_the_weighted_sum()
    {
        var backend = TestDevices.Reference;
        // 2·(1, 2) + 0.5·(4, −2) = (4, 3)
        var result = Run(backend, new SumCombiner<double>(backend), [[1, 2], [4, -2]], [2, 0.5]);
        Tolerance.AllClose([4, 3], result, 0, 1e-15);
    }

    [Fact]
    public void Projection_in_2d_by_hand()
    {
        var backend = TestDevices.Reference;
        using var combiner = new ProjectionCombiner<double>(backend);
        // g_A = (2, 0), g_B = (1, 3): g_A·g_B = 2, ‖g_A‖² = 4, g_B' = (1, 3) − ½(2, 0) = (0, 3); sum = (2, 3).
        Tolerance.AllClose([2, 3], Run(backend, combiner, [[2, 0], [1, 3]], [1, 1]), 0, 1e-15);
        // No conflict (g_A·g_B = 2 > 0) still projects: g_B' is always the part orthogonal to g_A.
        // A weight scales a task's gradient, not the direction projected against: w = (0.5, 3) gives (1, 0) + 3·(0, 3).
        Tolerance.AllClose([1, 9], Run(backend, combiner, [[2, 0], [1, 3]], [0.5, 3]), 0, 1e-15);
    }

    [Fact]
    public void Projection_in_3d_by_hand_with_weights()
    {
        var backend = TestDevices.Reference;
        using var combiner = new ProjectionCombiner<double>(backend);
        // g_A = (1, 1, 0), g_B = (1, 2, 3): g_A·g_B = 3, ‖g_A‖² = 2, g_B' = (1, 2, 3) − 1.5·(1, 1, 0) = (−0.5, 0.5, 3)
        // (check: g_B'·g_A = −0.5 + 0.5 = 0). With w = (2, 0.5): 2·(1, 1, 0) + 0.5·(−0.5, 0.5, 3) = (1.75, 2.25, 1.5).
        Tolerance.AllClose([1.75, 2.25, 1.5], Run(backend, combiner, [[1, 1, 0], [1, 2, 3]], [2, 0.5]), 0, 1e-15);
    }

    [Fact]
    public void Reference_task_is_selectable_and_every_other_task_is_projected_against_it()
    {
        var backend = TestDevices.Reference;
        using var combiner = new ProjectionCombiner<double>(backend, referenceTask: 1);
        // Reference g₁ = (0, 2). g₀ = (1, 1) → (1, 0); g₂ = (3, −4) → (3, 0). Sum = (1, 0) + (0, 2) + (3, 0) = (4, 2).
        Tolerance.AllClose([4, 2], Run(backend, combiner, [[1, 1], [0, 2], [3, -4]], [1, 1, 1]), 0, 1e-15);
    }

    [Fact]
    public void Projected_gradient_is_orthogonal_to_the_reference_in_float64()
    {
        var backend = TestDevices.Reference;
        using var combiner = new ProjectionCombiner<double>(backend);
        foreach (int length in new[] { 3, 257, 10001 })
        {
            var g = RandomGradients(2, length, seed: length);
            var projected = Axpy(-1, g[0], Run(backend, combiner, g, [1, 1])); // output − g_A = g_B'
            double cosine = Dot(projected, g[0]) / Math.Sqrt(Dot(projected, projected) * Dot(g[0], g[0]));
            Assert.True(Math.Abs(cosine) < 1e-13, $"P={length}: cos(g_B', g_A) = {cosine}");
            // and g_B − g_B' is parallel to g_A: g_B' = g_B − (g_A·g_B/‖g_A‖²)g_A exactly.
            Tolerance.AllClose(Axpy(-Dot(g[0], g[1]) / Dot(g[0], g[0]), g[0], g[1]), projected, 1e-12, 1e-12);
        }
    }

    [Fact]
    public void Zero_norm_reference_leaves_the_others_unchanged_without_NaN()
    {
        var backend = TestDevices.Reference;
        using var combiner = new ProjectionCombiner<double>(backend);
        Tolerance.AllClose([1, 3], Run(backend, combiner, [[0, 0], [1, 3]], [1, 1]), 0, 0);
        Tolerance.AllClose([0, 0], Run(backend, combiner, [[0, 0], [0, 0]], [1, 1]), 0, 0);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_projection_and_sum_match_float64(string device)
    {
        var backend = TestDevices.Get(device);
        var g = RandomGradients(4, 257, seed: 3);
        double[] w = [1, 0.5, 2, 0.25];
        using var projection32 = new ProjectionCombiner<float>(backend, referenceTask: 2);
        using var projection64 = new ProjectionCombiner<double>(TestDevices.Reference, referenceTask: 2);
        var g32 = g.Select(r => Tolerance.ToDouble(Tolerance.ToFloat(r))).ToArray();
        // Tolerance: a Gram entry carries ~1e-6 relative error, the coefficient one ratio of them; 1e-4 + 1e-5 absolute.
        Tolerance.AllClose(Run(TestDevices.Reference, projection64, g32, w), Run(backend, projection32, g32, w), 1e-4, 1e-5, $"{device} projection");
        Tolerance.AllClose(Run(TestDevices.Reference, new SumCombiner<double>(TestDevices.Reference), g32, w),
            Run(backend, new SumCombiner<float>(backend), g32, w), 1e-6, 1e-6, $"{device} sum");
    }

    [Fact]
    public void Scratch_is_allocated_once_per_task_count()
    {
        var backend = TestDevices.Reference;
        using var combiner = new ProjectionCombiner<double>(backend);
        Run(backend, combiner, [[2, 0], [1, 3]], [1, 1]);
        var gram = combiner.Gram.Buffer;
        Run(backend, combiner, [[1, 1], [0, 3]], [1, 1]);
        Assert.Same(gram, combiner.Gram.Buffer); // same T: nothing reallocated
        // A different task count resizes once and still gives the right answer: g₁ = (1, 3) → (0, 3) and g₂ = (0, −1) (already orthogonal) are
        // projected against g₀ = (2, 0): sum = (2, 0) + (0, 3) + (0, −1) = (2, 2).
        Tolerance.AllClose([2, 2], Run(backend, combiner, [[2, 0], [1, 3], [0, -1]], [1, 1, 1]), 0, 1e-15);
        Assert.Equal(9, combiner.Gram.Length);
    }

    [Fact]
    public void Bad_input_is_rejected_with_clear_errors()
    {
        var backend = TestDevices.Reference;
        using var combiner = new ProjectionCombiner<double>(backend);
        using var g = backend.Allocate<double>(10);
        using var w = backend.Allocate<double>(2);
        using var w3 = backend.Allocate<double>(3);
        using var output = backend.Allocate<double>(4);
        var e1 = Assert.Throws<ArgumentException>(() => combiner.Combine(g.View, 2, w.View, output.View)); // 10 ≠ 2 × 4
        Assert.Equal("taskGradients", e1.ParamName);
        Assert.Contains("2 × 4", e1.Message);
        var e2 = Assert.Throws<ArgumentException>(() => combiner.Combine(g.Slice(0, 8), 2, w3.View, output.View)); // T mismatch
        Assert.Equal("taskWeights", e2.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => combiner.Combine(g.Slice(0, 8), 0, w.View, output.View));
        using var badReference = new ProjectionCombiner<double>(backend, referenceTask: 5);
        Assert.Throws<ArgumentOutOfRangeException>(() => badReference.Combine(g.Slice(0, 8), 2, w.View, output.View));
        Assert.Throws<ArgumentException>(() => new SumCombiner<double>(backend).Combine(g.View, 2, w.View, output.View));
    }
}
