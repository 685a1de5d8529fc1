using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using static Engine.Tests.Optimizers.CombinationTestSupport;

namespace Engine.Tests.Optimizers;

/// <summary>MGDA-UB and CAGrad against closed forms and brute-force float64 searches over the simplex and the ball.</summary>
public class CombinationMinNormTests
{
    [Fact]
    public void Mgda_two_tasks_matches_the_closed_form()
    {
        var backend = TestDevices.Reference;
        using var combiner = new MgdaCombiner<double>(backend);
        // g₁ = (1, 0), g₂ = (0, 2): G = [[1, 0], [0, 4]], α₁ = (G₂₂ − G₁₂)/(G₁₁ + G₂₂ − 2G₁₂) = 4/5.
        // Min-norm point: 0.8·(1, 0) + 0.2·(0, 2) = (0.8, 0.4).
        Tolerance.AllClose([0.8, 0.4], Run(backend, combiner, [[1, 0], [0, 2]], [1, 1]), 1e-12, 1e-12);
        // Parallel gradients g₂ = 2g₁: α₁ = (4 − 2)/(1 + 4 − 4) = 2 → clipped to 1: the shorter gradient (1, 0).
        Tolerance.AllClose([1, 0], Run(backend, combiner, [[1, 0], [2, 0]], [1, 1]), 1e-12, 1e-12);
        // Opposite gradients: 0 is in the hull, the min-norm point is 0 (Pareto-stationary).
        Tolerance.AllClose([0, 0], Run(backend, combiner, [[1, -1], [-2, 2]], [1, 1]), 0, 1e-12);
    }

    [Theory]
    [InlineData(2, 2, 1)]
    [InlineData(2, 5, 2)]
    [InlineData(3, 2, 3)]
    [InlineData(3, 3, 4)]
    [InlineData(3, 7, 5)]
    public void Mgda_result_has_minimal_norm_in_the_hull(int tasks, int length, int seed)
    {
        var backend = TestDevices.Reference;
        var g = RandomGradients(tasks, length, seed);
        for (int k = 0; k < length; k++) g[1][k] -= 0.9 * g[0][k]; // conflict, so the optimum is not trivial
        using var combiner = new MgdaCombiner<double>(backend);
        var result = Run(backend, combiner, g, Enumerable.Repeat(1.0, tasks).ToArray());

        // The coefficients are a point of the simplex and the result is that combination.
        var alpha = Array.ConvertAll(backend.ToArray(combiner.Coefficients), x => x);
        Assert.All(alpha, a => Assert.True(a >= -1e-15, $"α = {a}"));
        Assert.Equal(1.0, alpha.Sum(), 12);
        Tolerance.AllClose(Combination(alpha, g), result, 1e-12, 1e-12);

        // Brute force: no point of the simplex grid (refined) has a smaller norm.
        var gram = GramOf(g);
        var best = BruteForceSimplexMinimum(tasks, w => Quadratic(w, gram));
        double ours = Dot(result, result), brute = Quadratic(best, gram);
        Assert.True(ours <= brute + 1e-10, $"‖ours‖² = {ours:R} > brute force {brute:R}");
        Assert.True(brute - ours < 1e-6 * Math.Max(1, brute), $"brute force {brute:R} is far below ours {ours:R}: the grid is broken");
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Mgda_with_six_tasks_satisfies_the_min_norm_optimality_condition(string device)
    {
        // d is the min-norm point of the hull iff gᵣ·d ≥ ‖d‖² for every r (no vertex lies strictly on the near side of
        // the supporting hyperplane through d); checked in float64 on the float64 path and, looser, on float32 devices.
        var g = RandomGradients(6, 20, seed: 77);
        for (int k = 0; k < 20; k++) { g[1][k] -= 0.9 * g[0][k]; g[4][k] -= 0.6 * g[2][k]; }
        g = g.Select(r => Tolerance.ToDouble(Tolerance.ToFloat(r))).ToArray();
        var ones = Enumerable.Repeat(1.0, 6).ToArray();
        using var mgda64 = new MgdaCombiner<double>(TestDevices.Reference);
        var d = Run(TestDevices.Reference, mgda64, g, ones);
        double norm2 = Dot(d, d);
        Assert.True(norm2 > 1e-6, "this case should not be Pareto-stationary");
        foreach (var gr in g) Assert.True(Dot(gr, d) >= norm2 - 1e-10 * Math.Max(1, norm2), $"gᵣ·d = {Dot(gr, d)} < ‖d‖² = {norm2}");

        var backend = TestDevices.Get(device);
        using var mgda32 = new MgdaCombiner<float>(backend);
        var d32 = Run(backend, mgda32, g, ones);
        foreach (var gr in g) Assert.True(Dot(gr, d32) >= Dot(d32, d32) - 1e-4, $"{device}: gᵣ·d = {Dot(gr, d32)} < ‖d‖² = {Dot(d32, d32)}");
        Tolerance.AllClose(d, d32, 1e-3, 1e-4, device);
    }

    [Fact]
    public void Mgda_all_zero_gradients_give_zero_without_NaN()
    {
        var backend = TestDevices.Reference;
        using var combiner = new MgdaCombiner<double>(backend);
        Tolerance.AllClose([0, 0], Run(backend, combiner, [[0, 0], [0, 0], [0, 0]], [1, 1, 1]), 0, 0);
    }

    /// <summary>CAGrad's primal problem by brute force: max over ‖d − g₀‖ ≤ c‖g₀‖ of minᵢ gᵢ·d, on a polar grid (P = 2).</summary>
    private static double PrimalBruteForce2D(double[][] g, double c, out double[] bestD)
    {
        var g0 = new double[2];
        foreach (var row in g) { g0[0] += row[0] / g.Length; g0[1] += row[1] / g.Length; }
        double radius = c * Math.Sqrt(Dot(g0, g0)), best = double.NegativeInfinity;
        bestD = g0;
        for (int r = 0; r <= 400; r++)
            for (int a = 0; a < 4000; a++)
            {
                double rho = radius * r / 400, theta = 2 * Math.PI * a / 4000;
                double[] d = [g0[0] + rho * Math.Cos(theta), g0[1] + rho * Math.Sin(theta)];
                double worst = g.Min(gi => Dot(gi, d));
                if (worst > best) { best = worst; bestD = d; }
            }
        return best;
    }

    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(0.2, 2)]
    [InlineData(1.0, 3)]
    public void CaGrad_two_and_three_tasks_in_2d_match_a_primal_brute_force(double c, int seed)
    {
        var backend = TestDevices.Reference;
        foreach (int tasks in new[] { 2, 3 })
        {
            var g = RandomGradients(tasks, 2, seed);
            for (int k = 0; k < 2; k++) g[1][k] -= 0.8 * g[0][k];
            using var combiner = new CaGradCombiner<double>(backend, c, CaGradRescale.None);
            var d = Run(backend, combiner, g, Enumerable.Repeat(1.0, tasks).ToArray());

            var g0 = Combination(Enumerable.Repeat(1.0 / tasks, tasks).ToArray(), g);
            var offset = Axpy(-1, g0, d);
            Assert.True(Math.Sqrt(Dot(offset, offset)) <= c * Math.Sqrt(Dot(g0, g0)) * (1 + 1e-9), "d must lie in the ball around g₀");
            double ours = g.Min(gi => Dot(gi, d));
            double brute = PrimalBruteForce2D(g, c, out var bestD);
            Assert.True(ours >= brute - 1e-9, $"T={tasks}: min gᵢ·d = {ours:R} < brute force {brute:R}");
            // The grid's best point is near ours (the grid is 1/400 of the radius radially, 1/4000 of a turn).
            Tolerance.AllClose(bestD, d, 0, 5e-3 * c * Math.Sqrt(Dot(g0, g0)) + 1e-12, $"T={tasks} d");
        }
    }

    [Theory]
    [InlineData(2, 4, 0.5, 11)]
    [InlineData(3, 3, 0.5, 12)]
    [InlineData(3, 6, 0.8, 13)]
    public void CaGrad_dual_matches_a_brute_force_simplex_search(int tasks, int length, double c, int seed)
    {
        var backend = TestDevices.Reference;
        var g = RandomGradients(tasks, length, seed);
        for (int k = 0; k < length; k++) g[1][k] -= 0.9 * g[0][k];
        using var combiner = new CaGradCombiner<double>(backend, c, CaGradRescale.OnePlusCSquared);
        var d = Run(backend, combiner, g, Enumerable.Repeat(1.0, tasks).ToArray());

        // Dual: min_{w ∈ Δ} F(w) = g_w·g₀ + c‖g₀‖·‖g_w‖ by brute force; then d = (g₀ + c‖g₀‖/‖g_w‖·g_w)/(1 + c²).
        var gram = GramOf(g);
        var g0 = Combination(Enumerable.Repeat(1.0 / tasks, tasks).ToArray(), g);
        double cn = c * Math.Sqrt(Dot(g0, g0));
        double F(double[] w) => Dot(Combination(w, g), g0) + cn * Math.Sqrt(Quadratic(w, gram));
        var w = BruteForceSimplexMinimum(tasks, F);
        var gw = Combination(w, g);
        var expected = Axpy(cn / Math.Sqrt(Dot(gw, gw)), gw, g0).Select(x => x / (1 + c * c)).ToArray();
        Tolerance.AllClose(expected, d, 1e-4, 1e-5);
        // The same d has at least the brute force's worst-task improvement (primal objective, scaled alike).
        Assert.True(g.Min(gi => Dot(gi, d)) >= g.Min(gi => Dot(gi, expected)) - 1e-9);
    }

    [Fact]
    public void CaGrad_with_c_zero_is_the_mean_and_zero_gradients_give_no_NaN()
    {
        var backend = TestDevices.Reference;
        using var mean = new CaGradCombiner<double>(backend, c: 0);
        Tolerance.AllClose([0, 0.5], Run(backend, mean, [[1, 0], [-1, 1]], [1, 1]), 0, 1e-15);
        using var cagrad = new CaGradCombiner<double>(backend, c: 0.5);
        Tolerance.AllClose([0, 0], Run(backend, cagrad, [[0, 0], [0, 0]], [1, 1]), 0, 0);
        Assert.Throws<ArgumentOutOfRangeException>(() => new CaGradCombiner<double>(backend, c: -1));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_mgda_and_cagrad_match_float64(string device)
    {
        var backend = TestDevices.Get(device);
        var g = RandomGradients(3, 33, seed: 31);
        for (int k = 0; k < 33; k++) g[1][k] -= 0.9 * g[0][k];
        g = g.Select(r => Tolerance.ToDouble(Tolerance.ToFloat(r))).ToArray();
        double[] w = [1, 1, 0.5];
        // Tolerance: the solution depends smoothly on G, whose float32 entries carry ~1e-6 relative error;
        // 1e-3 relative + 1e-4 absolute leaves room for the conditioning of the min-norm problem.
        using var mgda32 = new MgdaCombiner<float>(backend);
        using var mgda64 = new MgdaCombiner<double>(TestDevices.Reference);
        Tolerance.AllClose(Run(TestDevices.Reference, mgda64, g, w), Run(backend, mgda32, g, w), 1e-3, 1e-4, $"{device} MGDA");
        using var ca32 = new CaGradCombiner<float>(backend, 0.4);
        using var ca64 = new CaGradCombiner<double>(TestDevices.Reference, 0.4);
        Tolerance.AllClose(Run(TestDevices.Reference, ca64, g, w), Run(backend, ca32, g, w), 1e-3, 1e-4, $"{device} CAGrad");
    }
}
