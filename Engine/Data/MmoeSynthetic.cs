namespace Engine.Data;

/// <summary>
/// The synthetic two-task regression of the MMoE paper (Ma et al., KDD 2018, §4.1), whose task relatedness is set by
/// one number, the cosine p of the two tasks' weight vectors:
/// <code>
/// u₁, u₂ ∈ ℝᵈ orthonormal;   w₁ = c·u₁,   w₂ = c·(p·u₁ + √(1 − p²)·u₂)
/// x ~ N(0, I_d);   yᵢ = wᵢᵀx + Σⱼ₌₁ᵐ sin(αⱼ·wᵢᵀx + βⱼ) + εᵢ,   εᵢ ~ N(0, σ²) independent
/// </code>
/// with d = 100, m = 10, c = 1 (the paper's values). The paper calls αⱼ, βⱼ "given parameters" and prints no values;
/// this class uses those of Google Research's public generator of this data (google-research repository, "Simple generator
/// for synthetic multi-task data", which notes the same gap):
/// αⱼ = j, βⱼ = (j − 1)², j = 1…m. The noise is N(0, 0.01) in the paper, read here as variance 0.01 (σ = 0.1);
/// Google's generator uses σ = 0.01. u₁, u₂ are Gram–Schmidt of two standard normal vectors drawn from the seed.
/// <para>Deterministic: the seed of <see cref="Create"/> fixes u₁, u₂ (so w₁, w₂), and the seed of
/// <see cref="Generate"/> fixes x and ε (<see cref="Random"/>(seed), Box–Muller normals; each stream's seed salted, so one
/// seed can serve all). Labels are computed in float64
/// from x as stored (float32), then rounded to float32.</para>
/// </summary>
public sealed class MmoeSynthetic
{
    /// <summary>The paper's input dimension d.</summary>
    public const int PaperDimension = 100;

    /// <summary>The paper's number of sine terms m.</summary>
    public const int PaperSines = 10;

    /// <summary>The cosine p of w₁ and w₂ (the task relatedness), in [−1, 1].</summary>
    public double Correlation { get; }

    /// <summary>The scale c of the weight vectors (|w₁| = |w₂| = c).</summary>
    public double Scale { get; }

    /// <summary>σ, the standard deviation of the label noise εᵢ.</summary>
    public double NoiseStd { get; }

    /// <summary>w₁ and w₂ (float64, length d).</summary>
    public IReadOnlyList<double[]> Weights { get; }

    /// <summary>α₁…αₘ, the frequencies of the sine terms.</summary>
    public double[] Alphas { get; }

    /// <summary>β₁…βₘ, the phases of the sine terms.</summary>
    public double[] Betas { get; }

    /// <summary>d, the input dimension.</summary>
    public int Dimension => Weights[0].Length;

    private MmoeSynthetic(double p, double c, double noiseStd, double[] w1, double[] w2, double[] alphas, double[] betas)
    {
        (Correlation, Scale, NoiseStd) = (p, c, noiseStd);
        Weights = [w1, w2];
        (Alphas, Betas) = (alphas, betas);
    }

    /// <summary>The two tasks for correlation <paramref name="p"/>, their directions u₁, u₂ drawn from <paramref name="seed"/>.</summary>
    /// <remarks><paramref name="alphas"/>, <paramref name="betas"/>: the sine parameters (both or neither, length m);
    /// null = Google's αⱼ = j, βⱼ = (j − 1)² with m = <paramref name="sines"/>.</remarks>
    public static MmoeSynthetic Create(double p, int seed, int dimension = PaperDimension, int sines = PaperSines,
        double scale = 1, double noiseStd = 0.1, IReadOnlyList<double>? alphas = null, IReadOnlyList<double>? betas = null)
    {
        if ((alphas is null) != (betas is null) || (alphas is not null && alphas.Count != betas!.Count))
            throw new ArgumentException("Give both α and β, of the same length, or neither.", nameof(alphas));
        if (!(p >= -1 && p <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p, "The correlation p must lie in [−1, 1].");
        if (dimension < 2) throw new ArgumentOutOfRangeException(nameof(dimension), dimension, "Two orthogonal directions need d ≥ 2.");
        ArgumentOutOfRangeException.ThrowIfNegative(sines);
        if (!(noiseStd >= 0)) throw new ArgumentOutOfRangeException(nameof(noiseStd), noiseStd, "The noise σ must be ≥ 0.");
        var normal = new Normal(seed);
        var u1 = Unit(normal.Vector(dimension));
        var u2 = normal.Vector(dimension);
        double along = Dot(u1, u2);
        for (int i = 0; i < dimension; i++) u2[i] -= along * u1[i];
        u2 = Unit(u2);
        double q = Math.Sqrt(1 - p * p);
        var w1 = new double[dimension];
        var w2 = new double[dimension];
        for (int i = 0; i < dimension; i++)
        {
            w1[i] = scale * u1[i];
            w2[i] = scale * (p * u1[i] + q * u2[i]);
        }
        var a = alphas?.ToArray() ?? Enumerable.Range(1, sines).Select(j => (double)j).ToArray();
        var b = betas?.ToArray() ?? Enumerable.Range(0, sines).Select(j => (double)j * j).ToArray();
        return new MmoeSynthetic(p, scale, noiseStd, w1, w2, a, b);
    }

    /// <summary>αⱼ, βⱼ ~ N(0, <paramref name="std"/>²) independently, j = 1…m, from <see cref="Random"/>(salted seed): smooth sine
    /// terms (|α| mostly below 2, against Google's αⱼ up to 10), for <see cref="Create"/>.</summary>
    public static (double[] Alphas, double[] Betas) NormalSines(int sines, int seed, double std = 1)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(sines);
        var normal = new Normal(seed ^ SineSalt);
        var alphas = normal.Vector(sines).Select(v => v * std).ToArray();
        return (alphas, normal.Vector(sines).Select(v => v * std).ToArray());
    }

    /// <summary>The noise-free label of task <paramref name="task"/> (0 or 1): wᵀx + Σⱼ sin(αⱼ·wᵀx + βⱼ), in float64.</summary>
    public double Label(int task, ReadOnlySpan<float> x)
    {
        var w = Weights[task];
        if (x.Length != w.Length) throw new ArgumentException($"x has {x.Length} values, the tasks {w.Length}.", nameof(x));
        double z = 0;
        for (int i = 0; i < w.Length; i++) z += w[i] * x[i];
        double y = z;
        for (int j = 0; j < Alphas.Length; j++) y += Math.Sin(Alphas[j] * z + Betas[j]);
        return y;
    }

    /// <summary>
    /// <paramref name="rows"/> examples: inputs <c>x0…x{d−1}</c>, regression tasks <c>y1</c>, <c>y2</c>. With
    /// <paramref name="noise"/> false the labels are the noise-free ones (the same x as with noise: the noise is drawn after
    /// each row's inputs either way).
    /// </summary>
    public Dataset Generate(int rows, int seed, bool noise = true)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rows);
        int d = Dimension;
        var normal = new Normal(seed ^ DataSalt);
        var inputs = new float[(long)rows * d];
        var y1 = new float[rows];
        var y2 = new float[rows];
        for (int r = 0; r < rows; r++)
        {
            var x = inputs.AsSpan(r * d, d);
            for (int i = 0; i < d; i++) x[i] = (float)normal.Next();
            double e1 = normal.Next() * NoiseStd, e2 = normal.Next() * NoiseStd;
            y1[r] = (float)(Label(0, x) + (noise ? e1 : 0));
            y2[r] = (float)(Label(1, x) + (noise ? e2 : 0));
        }
        var names = Enumerable.Range(0, d).Select(i => "x" + i).ToArray();
        var schema = new TableSchema(names, [], [TaskSpec.Regression("y1"), TaskSpec.Regression("y2")]);
        return new Dataset(FormattableString.Invariant($"mmoe-synthetic(p={Correlation}, seed={seed})"), schema, DataEncoding.Empty, names,
            inputs, [new RegressionTargets("y1", ["y1"], y1), new RegressionTargets("y2", ["y2"], y2)],
            Enumerable.Range(1, rows).ToArray());
    }

    /// <summary>XORed into the seeds of <see cref="Generate"/> and <see cref="NormalSines"/>, so that one seed given to all
    /// three draws three unrelated streams (else row 0's x would be a multiple of u₁).</summary>
    private const int DataSalt = 0x5EED_DA7A, SineSalt = 0x051E_5A1F;

    private static double Dot(double[] a, double[] b)
    {
        double s = 0;
        for (int i = 0; i < a.Length; i++) s += a[i] * b[i];
        return s;
    }

    private static double[] Unit(double[] v)
    {
        double n = Math.Sqrt(Dot(v, v));
        return v.Select(a => a / n).ToArray();
    }

    /// <summary>Standard normal draws from <see cref="Random"/>(seed) by Box–Muller (both values of each pair used).</summary>
    private sealed class Normal(int seed)
    {
        private readonly Random _random = new(seed);
        private double? _spare;

        public double Next()
        {
            if (_spare is { } s) { _spare = null; return s; }
            double u1 = 1 - _random.NextDouble(), u2 = _random.NextDouble();   // u1 ∈ (0, 1]: log is finite
            double radius = Math.Sqrt(-2 * Math.Log(u1)), angle = 2 * Math.PI * u2;
            _spare = radius * Math.Sin(angle);
            return radius * Math.Cos(angle);
        }

        public double[] Vector(int n)
        {
            var v = new double[n];
            for (int i = 0; i < n; i++) v[i] = Next();
            return v;
        }
    }
}
