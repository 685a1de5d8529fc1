using System.Numerics;
using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>Runs combiners on host data and float64 helpers shared by the combination tests.</summary>
internal static class CombinationTestSupport
{
    /// <summary>The scale-invariance check every solver-based method shares: every gradient ×1e-8 gives the result ×1e-8
    /// (rtol 1e-9), and two all-zero gradients give 0. <paramref name="run"/> combines (gradients, weights).</summary>
    public static void AssertScaleInvariantAndZeroGivesZero(Func<double[][], double[], double[]> run, double[][] g, double[] w)
    {
        var result = run(g, w);
        var tiny = run([.. g.Select(r => r.Select(v => v * 1e-8).ToArray())], w);
        Tolerance.AllClose(result, [.. tiny.Select(v => v * 1e8)], 1e-9, 1e-14, "scale 1e-8");
        int length = g[0].Length;
        Assert.All(run([new double[length], new double[length]], [1, 1]), v => Assert.Equal(0.0, v));
    }

    /// <summary>Uploads the task gradients (rows) and weights, runs <paramref name="combiner"/>, returns the combined gradient.</summary>
    public static double[] Run<T>(Backend<T> backend, IGradientCombiner<T> combiner, double[][] gradients, double[] weights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        int tasks = gradients.Length, length = gradients[0].Length;
        var flat = new T[tasks * length];
        for (int i = 0; i < tasks; i++)
            for (int k = 0; k < length; k++) flat[i * length + k] = T.CreateTruncating(gradients[i][k]);
        using var g = backend.Allocate<T>(flat);
        using var w = backend.Allocate<T>(Array.ConvertAll(weights, T.CreateTruncating));
        using var output = backend.Allocate<T>(length);
        combiner.Combine(g.View, tasks, w.View, output.View);
        return Array.ConvertAll(backend.ToArray(output.View), double.CreateTruncating);
    }

    public static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    public static double[] Axpy(double alpha, double[] x, double[] y)
    {
        var r = new double[y.Length];
        for (int i = 0; i < y.Length; i++) r[i] = y[i] + alpha * x[i];
        return r;
    }

    public static double[] Combination(double[] coefficients, double[][] vectors)
    {
        var r = new double[vectors[0].Length];
        for (int i = 0; i < vectors.Length; i++)
            for (int k = 0; k < r.Length; k++) r[k] += coefficients[i] * vectors[i][k];
        return r;
    }

    public static double[][] RandomGradients(int tasks, int length, int seed) =>
        Enumerable.Range(0, tasks).Select(i => Infrastructure.Tolerance.Random(length, seed * 31 + i)).ToArray();

    /// <summary>Every point of the simplex Δ_T on a grid of step 1/n (T = 2 or 3).</summary>
    public static IEnumerable<double[]> SimplexGrid(int tasks, int n)
    {
        if (tasks == 2)
            for (int a = 0; a <= n; a++) yield return [(double)a / n, 1 - (double)a / n];
        else
            for (int a = 0; a <= n; a++)
                for (int b = 0; b <= n - a; b++) yield return [(double)a / n, (double)b / n, (double)(n - a - b) / n];
    }

    /// <summary>Brute-force minimum of f over the simplex: a grid of step 1/n, then two finer grids around the best point.</summary>
    public static double[] BruteForceSimplexMinimum(int tasks, Func<double[], double> f, int n = 400)
    {
        double[] best = SimplexGrid(tasks, n).MinBy(f)!;
        double radius = 2.0 / n;
        for (int round = 0; round < 3; round++)
        {
            var center = best;
            int steps = 40;
            IEnumerable<double[]> local = tasks == 2
                ? Enumerable.Range(-steps, 2 * steps + 1).Select(a => new[] { center[0] + radius * a / steps, 1 - center[0] - radius * a / steps })
                : Enumerable.Range(-steps, 2 * steps + 1).SelectMany(a => Enumerable.Range(-steps, 2 * steps + 1).Select(b =>
                    new[] { center[0] + radius * a / steps, center[1] + radius * b / steps, 1 - center[0] - center[1] - radius * (a + b) / steps }));
            foreach (var p in local.Where(p => p.All(x => x >= 0)))
                if (f(p) < f(best)) best = p;
            radius /= 10;
        }
        return best;
    }

    public static double Quadratic(double[] w, double[,] gram)
    {
        double s = 0;
        for (int i = 0; i < w.Length; i++)
            for (int j = 0; j < w.Length; j++) s += w[i] * gram[i, j] * w[j];
        return s;
    }

    public static double[,] GramOf(double[][] g)
    {
        var gram = new double[g.Length, g.Length];
        for (int i = 0; i < g.Length; i++)
            for (int j = 0; j < g.Length; j++) gram[i, j] = Dot(g[i], g[j]);
        return gram;
    }
}
