using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// <c>graddrop</c> (Chen et al. 2020, Algorithm 1 lines 10–15): the kernel against a float64 reference written here
/// (its own SplitMix64 uniforms), against LibMTL's <c>GradDrop.backward</c> run in PyTorch 1.13 (float64), on every
/// device; the properties the paper states (one sign kept per coordinate, the purity as the probability of keeping the
/// positive side, leak 1 and single-sign coordinates give the sum); scale invariance; training through the registry
/// with no allocation per step.
/// </summary>
public sealed class GradDropTests
{
    // ---- the reference, written apart from Kernels/Combination/CounterRandom.cs and CpuGradDrop.cs (SplitMix64: RlwTests')

    /// <summary>(top 23 bits + ½)/2²³ of the hash of the counter step·φ + 2k.</summary>
    private static double ReferenceUniform(ulong seed, long step, int k) =>
        ((RlwTests.SplitMix64Finaliser(seed ^ RlwTests.SplitMix64Finaliser(unchecked((ulong)step * 0x9E3779B97F4A7C15UL + (ulong)(2L * k)))) >> 41) + 0.5) / 8388608.0;

    /// <summary>Column k: purity, uniform, output; in float64.</summary>
    private static (double Purity, double U, double Output)[] Reference(double[][] g, double[] w, double leak, ulong seed, long step)
    {
        int length = g[0].Length;
        var result = new (double, double, double)[length];
        for (int k = 0; k < length; k++)
        {
            var h = Enumerable.Range(0, g.Length).Select(i => w[i] * g[i][k]).ToArray();
            double abs = h.Sum(Math.Abs), p = abs > 0 ? 0.5 * (1 + h.Sum() / abs) : 0.5, u = ReferenceUniform(seed, step, k);
            double output = h.Sum(v => v * ((p > u && v > 0) || (p < u && v < 0) ? 1 : leak));
            result[k] = (p, u, output);
        }
        return result;
    }

    private static double[] Run<T>(Backend<T> backend, double[][] g, double[] w, double leak, ulong seed, long step)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        int tasks = g.Length, length = g[0].Length;
        using var vectors = backend.Allocate<T>([.. g.SelectMany(row => row.Select(T.CreateTruncating))]);
        using var weights = backend.Allocate<T>(Array.ConvertAll(w, T.CreateTruncating));
        using var output = backend.Allocate<T>(length);
        using var steps = backend.Allocate<double>([step, -7]);
        backend.GradDrop(vectors.View, tasks, length, weights.View, T.CreateTruncating(leak), seed, steps.View, output.View);
        Assert.Equal([step, step + 1], backend.ToArray(steps.View));   // the index read from steps[0], the next one written beside it
        return Array.ConvertAll(backend.ToArray(output.View), double.CreateTruncating);
    }

    private static double[][] Gradients(int tasks, int length, int seed) =>
        [.. Enumerable.Range(0, tasks).Select(i => Tolerance.Random(length, seed + 31 * i))];

    [Fact]
    public void The_uniforms_match_the_reference_bit_for_bit_and_are_uniform_on_the_open_interval()
    {
        for (long step = 0; step < 20; step++)
            for (int k = 0; k < 100; k++)
                Assert.Equal(ReferenceUniform(77, step, k), (double)CounterRandom.UniformSingle(77, step, k));
        var u = Enumerable.Range(0, 200_000).Select(k => (double)CounterRandom.UniformSingle(5, k / 1000, k % 1000)).ToArray();
        Assert.All(u, v => Assert.True(v > 0 && v < 1));
        Assert.InRange(u.Average(), 0.5 - 0.003, 0.5 + 0.003);                       // σ/√n = 0.00065
        Assert.InRange(u.Count(v => v < 0.25) / (double)u.Length, 0.25 - 0.004, 0.25 + 0.004);
    }

    /// <summary>The CPU path draws its uniforms on SIMD lanes (<see cref="CounterRandom.FillUniformSingles"/>): each of its
    /// paths — Vector512, <see cref="System.Numerics.Vector{T}"/>, the scalar tail — gives the reference's floats bit for
    /// bit, for lengths that are not whole vectors, first indices near 2³¹ (the 64-bit key) and large step counts. A path
    /// the CPU lacks writes nothing (returns 0) and is covered where it runs.</summary>
    [Fact]
    public void The_simd_uniforms_are_the_scalar_ones_bit_for_bit()
    {
        foreach (var (seed, step, first) in new (ulong, long, int)[] { (77, 0, 0), (5, 3, 17), (ulong.MaxValue, long.MaxValue / 3, int.MaxValue - 300), (12345, 1L << 40, 1 << 30) })
            foreach (int length in new[] { 0, 1, 15, 16, 33, 255, 256, 257 })
            {
                var expected = Enumerable.Range(0, length).Select(k => ReferenceUniform(seed, step, first + k)).ToArray();
                var all = new float[length];
                CounterRandom.FillUniformSingles(seed, step, first, all);
                Assert.Equal(expected, all.Select(v => (double)v));
                foreach (var (path, fill) in new (string, Func<ulong, long, int, Span<float>, int>)[]
                             { ("Vector512", CounterRandom.FillVector512), ("Vector<T>", CounterRandom.FillVector) })
                {
                    if (path == "Vector512" && !System.Runtime.Intrinsics.Vector512.IsHardwareAccelerated) continue;
                    var some = new float[length];
                    int written = fill(seed, step, first, some);
                    Assert.InRange(written, Math.Max(0, length - 31), length);   // whole vectors of two key vectors each
                    for (int k = 0; k < written; k++)
                        Assert.True(expected[k] == some[k], $"{path}, seed {seed}, step {step}, index {first + k}: {some[k]} vs {expected[k]}");
                }
            }
    }

    /// <summary>LibMTL's <c>GradDrop.backward</c> (rep_grad mode, a batch of 1, a positive representation so sign = 1,
    /// the uniforms U of this generator put in place of <c>torch.rand_like</c>) in PyTorch 1.13, float64
    /// (Tests/Fixtures/make_graddrop_libmtl.py prints them): T = 3, 8 columns, seed 12345, step 7.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_LibMTL_in_PyTorch(string device)
    {
        double[][] g =
        [
            [0.9, -0.4, 0.3, -1.2, 0.05, 0.7, -0.2, 0.0],
            [-0.5, -0.6, 0.2, 0.8, -0.30, 0.7, 0.6, -0.1],
            [0.1, 0.5, -0.9, 0.3, 0.20, 0.7, -0.6, 0.4],
        ];
        double[] leak0 = [1.0, -1.0, -0.9, 1.1, 0.25, 2.1, 0.6, 0.4];
        double[] leak25 = [0.875, -0.875, -0.775, 0.8, 0.175, 2.1, 0.4, 0.375];
        Tolerance.AllClose(leak0, Run(TestDevices.Get(device), g, [1, 1, 1], 0, 12345, 7), 1e-6, 1e-7, "leak 0");
        Tolerance.AllClose(leak25, Run(TestDevices.Get(device), g, [1, 1, 1], 0.25, 12345, 7), 1e-6, 1e-7, "leak 0.25");
        Tolerance.AllClose(leak0, Run(TestDevices.Reference, g, [1, 1, 1], 0, 12345, 7), 1e-15, 1e-15, "float64, leak 0");
    }

    /// <summary>The SIMD CPU kernel in float32 is the formula evaluated in float32, bit for bit: h = w·g, the sums in task
    /// order, p = ½(1 + Σh/Σ|h|), the mask from p against the reference uniform, Σ h·(1 or leak) — written here one
    /// coordinate at a time. Whatever lanes the CPU has (Vector512 with AVX-512, else Vector&lt;T&gt;), T = 1, 3, 5,
    /// across the chunk boundaries at 8192 and a tail shorter than a vector.</summary>
    [Fact]
    public void The_cpu_kernel_is_the_float32_formula_bit_for_bit()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        const int length = 20_011;
        foreach (int tasks in new[] { 1, 3, 5 })
            foreach (float leak in new[] { 0f, 0.3f })
            {
                var g = Gradients(tasks, length, seed: 7 * tasks);
                float[][] gf = [.. g.Select(row => Array.ConvertAll(row, v => (float)v))];
                float[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5f + 0.375f * i)];
                var actual = Run(backend, g, Array.ConvertAll(w, v => (double)v), leak, 4242, 9);
                for (int k = 0; k < length; k++)
                {
                    float sum = 0, abs = 0;
                    for (int i = 0; i < tasks; i++) { float h = w[i] * gf[i][k]; sum += h; abs += MathF.Abs(h); }
                    float p = abs > 0 ? 0.5f * (1 + sum / abs) : 0.5f, u = (float)ReferenceUniform(4242, 9, k), total = 0;
                    for (int i = 0; i < tasks; i++) { float h = w[i] * gf[i][k]; total += h * ((p > u && h > 0) || (p < u && h < 0) ? 1 : leak); }
                    if (BitConverter.SingleToInt32Bits(total) != BitConverter.SingleToInt32Bits((float)actual[k]))
                        Assert.Fail($"T = {tasks}, leak {leak}, column {k}: kernel {(float)actual[k]:R}, formula {total:R}");
                }
            }
    }

    /// <summary>float32 (SIMD lanes, chunk boundaries at 8192, the scalar tail; ILGPU) and float64 against the reference:
    /// rtol 1e-5 (float32; 1e-12 float64). A column whose reference purity lies within 1e-5 of its uniform may flip its
    /// mask in float32 and is exempt (counted: at most 5 of 40 000 here).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Matches_the_float64_reference(string device)
    {
        var backend = TestDevices.Get(device);
        int length = TestDevices.IsEmulated(device) ? 9000 : 20_003;
        foreach (int tasks in new[] { 1, 2, 5 })
            foreach (double leak in new[] { 0.0, 0.3 })
            {
                var g = Gradients(tasks, length, seed: tasks);
                double[] w = [.. Enumerable.Range(0, tasks).Select(i => 0.5 + 0.25 * i)];
                var expected = Reference(g, w, leak, 99, 3);
                var actual = Run(backend, g, w, leak, 99, 3);
                int exempt = 0;
                for (int k = 0; k < length; k++)
                {
                    if (Math.Abs(expected[k].Purity - expected[k].U) < 1e-5) { exempt++; continue; }
                    Assert.True(Math.Abs(actual[k] - expected[k].Output) <= 1e-5 * (1 + Math.Abs(expected[k].Output)),
                        $"T = {tasks}, leak {leak}, column {k}: {actual[k]} vs {expected[k].Output}");
                }
                Assert.InRange(exempt, 0, 5);
                Tolerance.AllClose([.. expected.Select(e => e.Output)], Run(TestDevices.Reference, g, w, leak, 99, 3), 1e-12, 1e-14, $"float64, T = {tasks}");
            }
    }

    /// <summary>The paper's properties, float64: with leak 0 every column keeps one sign (the output is the sum of the
    /// positive or of the negative hᵢ); a column of one sign and leak 1 give the plain sum; the gradients scaled by 1e-8
    /// give the output scaled by 1e-8 (the same masks).</summary>
    [Fact]
    public void One_sign_is_kept_single_sign_and_leak_one_give_the_sum_and_it_is_scale_invariant()
    {
        var backend = TestDevices.Reference;
        var g = Gradients(4, 3000, seed: 8);
        double[] w = [1, 0.5, 2, 1];
        var output = Run(backend, g, w, 0, 1, 0);
        for (int k = 0; k < output.Length; k++)
        {
            double positive = 0, negative = 0;
            for (int i = 0; i < 4; i++) { double h = w[i] * g[i][k]; if (h > 0) positive += h; else negative += h; }
            Assert.True(Math.Abs(output[k] - positive) < 1e-12 || Math.Abs(output[k] - negative) < 1e-12, $"column {k}");
        }
        var sum = CombinationTestSupport.Run(backend, new SumCombiner<double>(backend), g, w);
        Tolerance.AllClose(sum, Run(backend, g, w, 1, 1, 0), 1e-12, 1e-14, "leak 1");
        var positiveRows = g.Select(r => r.Select(Math.Abs).ToArray()).ToArray();
        Tolerance.AllClose(CombinationTestSupport.Run(backend, new SumCombiner<double>(backend), positiveRows, w),
            Run(backend, positiveRows, w, 0, 1, 0), 1e-12, 1e-14, "one sign");
        var tiny = Run(backend, [.. g.Select(r => r.Select(v => v * 1e-8).ToArray())], w, 0, 1, 0);
        Tolerance.AllClose(output, [.. tiny.Select(v => v * 1e8)], 1e-9, 1e-14, "scale 1e-8");
    }

    /// <summary>The purity is the probability of keeping the positive side (the paper's design): over 20 000 steps of the
    /// combiner the mean output of each column → Σ_{h&gt;0} P·h + Σ_{h&lt;0} (1 − P)·h within 4 standard errors of the
    /// two-point law (positive sum with probability P, negative sum otherwise); a seeded stream, so not flaky.</summary>
    [Fact]
    public void The_mean_output_is_the_purity_weighted_sum()
    {
        var backend = TestDevices.Reference;
        double[][] g = [[1, 1, -0.2, 3], [-1, -3, 0.5, -1], [0.5, 0.5, -0.1, -1]];
        double[] w = [1, 1, 1];
        using var combiner = new GradDropCombiner<double>(backend, seed: 4);
        const int steps = 20_000;
        var mean = new double[4];
        for (int s = 0; s < steps; s++)
        {
            var o = CombinationTestSupport.Run(backend, combiner, g, w);
            for (int k = 0; k < 4; k++) mean[k] += o[k] / steps;
        }
        Assert.Equal(steps, combiner.Steps);
        for (int k = 0; k < 4; k++)
        {
            var h = g.Select(r => r[k]).ToArray();
            double p = 0.5 * (1 + h.Sum() / h.Sum(Math.Abs));
            double positive = h.Where(v => v > 0).Sum(), negative = h.Where(v => v < 0).Sum();
            double expected = p * positive + (1 - p) * negative;
            double error = Math.Sqrt(p * (1 - p)) * (positive - negative) / Math.Sqrt(steps);   // the output is a two-point law
            Assert.InRange(mean[k], expected - 4 * error, expected + 4 * error);
        }
    }

    /// <summary>Through the registry: <c>graddrop</c> (leak 0.1) and <c>gls+graddrop</c> train (loss down), and a warm
    /// step allocates nothing.</summary>
    [Theory]
    [InlineData("graddrop")]
    [InlineData("gls+graddrop")]
    public void Graddrop_trains_through_the_registry_and_a_warm_step_allocates_nothing(string method)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1));
        using var step = new TrainingStep(model, new StepOptions
        {
            Method = method, LearningRate = 0.01, CombinationSeed = 3,
            MethodOptions = new Dictionary<string, string> { ["leak"] = "0.1" },
        }, 16);
        var combiner = Assert.IsType<GradDropCombiner<float>>(step.Combiner);
        Assert.Equal(0.1, combiner.Leak, 1e-12);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16);
        Assert.Equal(4, combiner.Steps);
        MethodTraining.WarmStepsAllocateNothingAndLowerTheLoss(step, device);
    }
}
