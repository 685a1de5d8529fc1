namespace Engine.Data;

/// <summary>
/// Per-column affine standardization z = (x − μ) / σ of a row-major [rows × Width] float32 matrix, and its
/// inverse x = z·σ + μ. μ and σ are the mean and the population standard deviation (divide by n, as
/// scikit-learn's StandardScaler), accumulated in float64 over the fitting rows only. A column whose σ is
/// 0 (or below <see cref="MinStd"/>) gets σ = 1, so it maps to x − μ (all zeros on the fitting rows) instead of dividing by zero.
/// </summary>
public sealed class Standardizer
{
    /// <summary>Below this a standard deviation counts as zero and is replaced by 1.</summary>
    public const double MinStd = 1e-12;

    private readonly double[] _mean;
    private readonly double[] _std;

    /// <summary>Column means μ.</summary>
    public IReadOnlyList<double> Mean => _mean;

    /// <summary>Column scales σ (already guarded: never below <see cref="MinStd"/>).</summary>
    public IReadOnlyList<double> Std => _std;

    /// <summary>The number of columns.</summary>
    public int Width => _mean.Length;

    /// <summary>Creates a standardizer from known μ and σ (σ must be finite and positive).</summary>
    public Standardizer(IReadOnlyList<double> mean, IReadOnlyList<double> std)
    {
        if (mean.Count != std.Count) throw new ArgumentException($"mean has {mean.Count} columns but std has {std.Count}.", nameof(std));
        for (int j = 0; j < mean.Count; j++)
        {
            if (!double.IsFinite(mean[j])) throw new ArgumentException($"mean[{j}] is {mean[j]}; it must be finite.", nameof(mean));
            if (!(double.IsFinite(std[j]) && std[j] > 0)) throw new ArgumentException($"std[{j}] is {std[j]}; it must be finite and positive.", nameof(std));
        }
        _mean = mean.ToArray();
        _std = std.ToArray();
    }

    /// <summary>μ = 0, σ = 1: leaves values unchanged.</summary>
    public static Standardizer Identity(int width) => new(new double[width], Enumerable.Repeat(1.0, width).ToArray());

    /// <summary>
    /// Fits μ and σ on the rows <paramref name="rows"/> of <paramref name="values"/> [rows × width]:
    /// μⱼ = (1/n) Σᵢ xᵢⱼ, σⱼ = √((1/n) Σᵢ (xᵢⱼ − μⱼ)²) — two passes in float64, so no cancellation. NaN values
    /// (missing labels) are left out, n counting the others; a column with no value at all is an error.
    /// Columns flagged in <paramref name="passThrough"/> (e.g. one-hot slots) get μ = 0, σ = 1.
    /// </summary>
    public static Standardizer Fit(ReadOnlySpan<float> values, int width, ReadOnlySpan<int> rows, ReadOnlySpan<bool> passThrough = default)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(width);
        if (width > 0 && values.Length % width != 0)
            throw new ArgumentException($"values has {values.Length} elements, not a multiple of width {width}.", nameof(values));
        if (rows.Length == 0) throw new ArgumentException("Cannot fit a standardizer on zero rows.", nameof(rows));
        if (!passThrough.IsEmpty && passThrough.Length != width)
            throw new ArgumentException($"passThrough has {passThrough.Length} flags but there are {width} columns.", nameof(passThrough));
        int total = width == 0 ? 0 : values.Length / width;
        var mean = new double[width];
        var std = new double[width];
        foreach (int r in rows)
            if ((uint)r >= (uint)total) throw new ArgumentOutOfRangeException(nameof(rows), r, $"Row index must be in [0, {total}).");
        for (int j = 0; j < width; j++)
        {
            if (!passThrough.IsEmpty && passThrough[j]) { std[j] = 1; continue; }
            // NaN is a missing label (regression targets): left out of μ and σ, and left NaN by Transform.
            double sum = 0;
            int n = 0;
            foreach (int r in rows)
                if (!float.IsNaN(values[r * width + j])) { sum += values[r * width + j]; n++; }
            if (n == 0) throw new ArgumentException($"Column {j} has no value on the {rows.Length} fitting rows (every one is missing).", nameof(values));
            double mu = sum / n;
            double squares = 0;
            foreach (int r in rows)
                if (!float.IsNaN(values[r * width + j])) { double d = values[r * width + j] - mu; squares += d * d; }
            double sigma = Math.Sqrt(squares / n);
            mean[j] = mu;
            std[j] = sigma < MinStd ? 1 : sigma;
        }
        return new Standardizer(mean, std);
    }

    /// <summary>Fits on every row.</summary>
    public static Standardizer Fit(ReadOnlySpan<float> values, int width)
    {
        var all = new int[width == 0 ? 0 : values.Length / width];
        for (int i = 0; i < all.Length; i++) all[i] = i;
        return Fit(values, width, all);
    }

    /// <summary>In place: x ← (x − μ)/σ, computed in float64 and rounded once to float32.</summary>
    public void Transform(Span<float> values)
    {
        CheckShape(values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            int j = i % Width;
            values[i] = (float)((values[i] - _mean[j]) / _std[j]);
        }
    }

    /// <summary>In place: z ← z·σ + μ (undoes <see cref="Transform"/>, e.g. on predictions).</summary>
    public void InverseTransform(Span<float> values)
    {
        CheckShape(values.Length);
        for (int i = 0; i < values.Length; i++)
        {
            int j = i % Width;
            values[i] = (float)(values[i] * _std[j] + _mean[j]);
        }
    }

    private void CheckShape(int length)
    {
        if (Width == 0 ? length != 0 : length % Width != 0)
            throw new ArgumentException($"values has {length} elements, not a multiple of the {Width} standardized columns.", "values");
    }
}
