using Engine.Data;

namespace Engine.Tests.Data;

/// <summary>
/// The MMoE paper's synthetic data (Ma et al. 2018, §4.1; <see cref="MmoeSynthetic"/>): the weight vectors have cosine p
/// and norm c, every label is the paper's formula recomputed here in float64 from the returned x and the generator's w, α,
/// β (exactly up to float32 rounding without noise; with noise the residual has the stated mean 0 and σ), p = 1 gives
/// the two tasks the same noise-free labels, and the data is a function of the seeds.
/// </summary>
public class MmoeSyntheticTests
{
    /// <summary>yᵢ = wᵢᵀx + Σⱼ sin(αⱼ wᵢᵀx + βⱼ), written out here apart from the generator.</summary>
    private static double Formula(MmoeSynthetic g, int task, ReadOnlySpan<float> x)
    {
        double z = 0;
        for (int i = 0; i < x.Length; i++) z += (double)x[i] * g.Weights[task][i];
        double sines = 0;
        for (int j = 0; j < g.Alphas.Length; j++) sines += Math.Sin(g.Alphas[j] * z + g.Betas[j]);
        return z + sines;
    }

    private static float[] Labels(Dataset data, string task) => ((RegressionTargets)data.Task(task)).Values;

    [Theory]
    [InlineData(0.5, 1)]
    [InlineData(0.9, 2)]
    [InlineData(1.0, 3)]
    [InlineData(0.0, 4)]
    [InlineData(-0.3, 5)]
    public void The_weight_vectors_have_cosine_p_and_norm_c(double p, int seed)
    {
        var g = MmoeSynthetic.Create(p, seed, scale: 2.5);
        double dot = 0, n1 = 0, n2 = 0;
        for (int i = 0; i < g.Dimension; i++)
        {
            dot += g.Weights[0][i] * g.Weights[1][i];
            n1 += g.Weights[0][i] * g.Weights[0][i];
            n2 += g.Weights[1][i] * g.Weights[1][i];
        }
        Assert.Equal(100, g.Dimension);
        Assert.True(Math.Abs(dot / Math.Sqrt(n1 * n2) - p) <= 1e-12, $"cosine {dot / Math.Sqrt(n1 * n2):R}, p {p}");
        Assert.True(Math.Abs(Math.Sqrt(n1) - 2.5) <= 1e-12 && Math.Abs(Math.Sqrt(n2) - 2.5) <= 1e-12);
    }

    [Fact]
    public void The_sine_parameters_are_the_stated_ones()
    {
        var g = MmoeSynthetic.Create(0.5, 1);
        Assert.Equal([1, 2, 3, 4, 5, 6, 7, 8, 9, 10], g.Alphas);
        Assert.Equal([0, 1, 4, 9, 16, 25, 36, 49, 64, 81], g.Betas);
        Assert.Equal(0.1, g.NoiseStd);
    }

    [Theory]
    [InlineData(0.5, false)]
    [InlineData(0.9, false)]
    [InlineData(0.5, true)]
    public void Noise_free_labels_are_the_formula(double p, bool normalSines)
    {
        var (alphas, betas) = normalSines ? MmoeSynthetic.NormalSines(10, 7) : (null, null);
        var g = MmoeSynthetic.Create(p, 7, alphas: alphas, betas: betas);
        if (normalSines) { Assert.Equal(alphas, g.Alphas); Assert.Equal(betas, g.Betas); }
        var data = g.Generate(500, 11, noise: false);
        Assert.Equal(100, data.InputCount);
        Assert.Equal(500, data.RowCount);
        var y1 = Labels(data, "y1");
        var y2 = Labels(data, "y2");
        for (int r = 0; r < data.RowCount; r++)
        {
            var x = data.InputRow(r);
            // float32 storage: the label is the float64 formula rounded once (a sum in another order may differ by far less).
            Assert.True(Math.Abs(y1[r] - Formula(g, 0, x)) <= 1e-6 * Math.Max(1, Math.Abs(y1[r])), $"row {r} y1");
            Assert.True(Math.Abs(y2[r] - Formula(g, 1, x)) <= 1e-6 * Math.Max(1, Math.Abs(y2[r])), $"row {r} y2");
        }
    }

    [Fact]
    public void The_noise_has_mean_zero_and_the_stated_deviation_independently_per_task()
    {
        const int rows = 20000;
        var g = MmoeSynthetic.Create(0.9, 3);
        var clean = g.Generate(rows, 5, noise: false);
        var noisy = g.Generate(rows, 5);
        Assert.Equal(clean.Inputs, noisy.Inputs);   // the same x: the noise is drawn after each row's inputs
        var e1 = Labels(noisy, "y1").Zip(Labels(clean, "y1"), (a, b) => (double)a - b).ToArray();
        var e2 = Labels(noisy, "y2").Zip(Labels(clean, "y2"), (a, b) => (double)a - b).ToArray();
        foreach (var e in new[] { e1, e2 })
        {
            double mean = e.Average(), sd = Math.Sqrt(e.Sum(v => (v - mean) * (v - mean)) / (rows - 1));
            // Mean: 5 standard errors (σ/√n = 7.1e−4); σ: the sample sd of n normals has relative sd 1/√(2n) = 0.5 %, 3 % allowed.
            Assert.True(Math.Abs(mean) < 5 * 0.1 / Math.Sqrt(rows), $"noise mean {mean}");
            Assert.True(Math.Abs(sd - 0.1) < 0.003, $"noise sd {sd}");
        }
        double correlation = e1.Zip(e2, (a, b) => a * b).Average() / (0.1 * 0.1);
        Assert.True(Math.Abs(correlation) < 5 / Math.Sqrt(rows), $"noise correlation between the tasks {correlation}");
    }

    [Fact]
    public void With_p_one_both_tasks_have_the_same_noise_free_labels()
    {
        var data = MmoeSynthetic.Create(1.0, 2).Generate(300, 9, noise: false);
        Assert.Equal(Labels(data, "y1"), Labels(data, "y2"));
        var noisy = MmoeSynthetic.Create(1.0, 2).Generate(300, 9);
        Assert.NotEqual(Labels(noisy, "y1"), Labels(noisy, "y2"));   // the noise is independent per task
    }

    [Fact]
    public void The_data_is_a_function_of_the_seeds()
    {
        var a = MmoeSynthetic.Create(0.5, 1).Generate(200, 1);
        var b = MmoeSynthetic.Create(0.5, 1).Generate(200, 1);
        Assert.Equal(a.Inputs, b.Inputs);
        Assert.Equal(Labels(a, "y1"), Labels(b, "y1"));
        Assert.Equal(Labels(a, "y2"), Labels(b, "y2"));

        var otherData = MmoeSynthetic.Create(0.5, 1).Generate(200, 2);
        Assert.NotEqual(a.Inputs, otherData.Inputs);
        var otherTasks = MmoeSynthetic.Create(0.5, 2);
        Assert.NotEqual(MmoeSynthetic.Create(0.5, 1).Weights[0], otherTasks.Weights[0]);
        Assert.NotEqual(Labels(a, "y1"), Labels(otherTasks.Generate(200, 1), "y1"));   // same x, other w
    }

    [Fact]
    public void Normal_sines_are_seeded_standard_normal_draws()
    {
        var (a, b) = MmoeSynthetic.NormalSines(4000, 3);
        Assert.Equal(a, MmoeSynthetic.NormalSines(4000, 3).Alphas);
        Assert.NotEqual(a, MmoeSynthetic.NormalSines(4000, 4).Alphas);
        foreach (var v in new[] { a, b })
        {
            double mean = v.Average(), sd = Math.Sqrt(v.Sum(x => (x - mean) * (x - mean)) / (v.Length - 1));
            Assert.True(Math.Abs(mean) < 5 / Math.Sqrt(v.Length) && Math.Abs(sd - 1) < 0.06, $"mean {mean}, sd {sd}");
        }
        // One seed for the tasks and the rows: row 0's x is not u₁'s direction (the streams are salted apart).
        var g = MmoeSynthetic.Create(0.5, 3);
        var x = g.Generate(1, 3).InputRow(0).ToArray();
        double dot = 0, nx = 0;
        for (int i = 0; i < x.Length; i++) { dot += x[i] * g.Weights[0][i]; nx += (double)x[i] * x[i]; }
        Assert.True(Math.Abs(dot / Math.Sqrt(nx)) < 0.5, $"cosine of x₀ and w₁: {dot / Math.Sqrt(nx)}");
    }

    [Fact]
    public void Arguments_outside_their_domains_are_refused()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => MmoeSynthetic.Create(1.5, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MmoeSynthetic.Create(double.NaN, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MmoeSynthetic.Create(0.5, 1, dimension: 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => MmoeSynthetic.Create(0.5, 1, noiseStd: -1));
        Assert.Throws<ArgumentException>(() => MmoeSynthetic.Create(0.5, 1, alphas: [1.0]));
        Assert.Throws<ArgumentException>(() => MmoeSynthetic.Create(0.5, 1, alphas: [1.0], betas: [1.0, 2.0]));
    }
}
