namespace Engine.Data;

/// <summary>
/// Mean imputation of missing numeric inputs (maths §19.12), fitted on the training rows only. For numeric input column j
/// with present training values x₁ⱼ…xₙⱼ (NaN = missing, left out):
/// <code>
///   μⱼ = (1/nⱼ) Σᵢ xᵢⱼ                      (float64, training rows only; nⱼ = 0 is an error: μⱼ undefined)
///   x̃ᵢⱼ = xᵢⱼ if present, else (float)μⱼ   (every split, and every file predicted on later)
///   mᵢⱼ = [xᵢⱼ missing] ∈ {0, 1}           (<see cref="MissingInputs.MeanIndicator"/>: for the columns in <see cref="Indicators"/> only)
/// </code>
/// Every numeric column gets a μⱼ, so a later file's missing cell in a column that was complete in training is filled
/// too; the indicator columns are those chosen in training, so the model's input width never changes. The layout
/// after <see cref="Apply(Dataset)"/>: the numeric inputs, then one <c>COL_missing</c> column per indicator (in
/// numeric-column order), then the one-hot blocks and the embedded index columns, unchanged. The standardization is
/// fitted after it, on the imputed values (<see cref="Standardization.Fit(Dataset, ReadOnlySpan{int}, MissingInputs)"/>).
/// </summary>
public sealed class InputImputation
{
    /// <summary>The suffix of an indicator column's name: <c>x</c> → <c>x_missing</c>.</summary>
    public const string IndicatorSuffix = "_missing";

    private readonly double[] _means;
    private readonly int[] _indicatorOf; // per numeric column: its indicator's index among the indicators, or −1

    /// <summary><see cref="MissingInputs.Mean"/> or <see cref="MissingInputs.MeanIndicator"/>.</summary>
    public MissingInputs Policy { get; }

    /// <summary>The numeric input columns, in feature order (the first <see cref="Columns"/>.Count features).</summary>
    public IReadOnlyList<string> Columns { get; }

    /// <summary>μⱼ: each numeric column's mean over its present training values (original units).</summary>
    public IReadOnlyList<double> Means => _means;

    /// <summary>The numeric columns that get a 0/1 indicator column (those with a missing training cell; empty for
    /// <see cref="MissingInputs.Mean"/>), in <see cref="Columns"/> order.</summary>
    public IReadOnlyList<string> Indicators { get; }

    /// <summary>Creates an imputation from known means (finite) and indicator columns (a subset of <paramref name="columns"/>,
    /// in their order; empty unless the policy is <see cref="MissingInputs.MeanIndicator"/>).</summary>
    public InputImputation(MissingInputs policy, IReadOnlyList<string> columns, IReadOnlyList<double> means, IReadOnlyList<string> indicators)
    {
        if (policy is not (MissingInputs.Mean or MissingInputs.MeanIndicator))
            throw new ArgumentOutOfRangeException(nameof(policy), policy, "An imputation's policy is Mean or MeanIndicator.");
        ArgumentNullException.ThrowIfNull(columns);
        ArgumentNullException.ThrowIfNull(means);
        ArgumentNullException.ThrowIfNull(indicators);
        if (means.Count != columns.Count) throw new ArgumentException($"{means.Count} means for {columns.Count} columns.", nameof(means));
        for (int j = 0; j < means.Count; j++)
            if (!double.IsFinite(means[j])) throw new ArgumentException($"The mean of column '{columns[j]}' is {means[j]}; it must be finite.", nameof(means));
        if (policy == MissingInputs.Mean && indicators.Count > 0)
            throw new ArgumentException("The Mean policy adds no indicator columns.", nameof(indicators));
        var names = columns.ToArray();
        _indicatorOf = new int[names.Length];
        Array.Fill(_indicatorOf, -1);
        int previous = -1;
        for (int k = 0; k < indicators.Count; k++)
        {
            int j = Array.IndexOf(names, indicators[k]);
            if (j < 0) throw new ArgumentException($"Indicator column '{indicators[k]}' is not a numeric input column.", nameof(indicators));
            if (j <= previous) throw new ArgumentException("Indicator columns must be distinct and in the numeric columns' order.", nameof(indicators));
            _indicatorOf[j] = k;
            previous = j;
        }
        Policy = policy;
        Columns = names;
        _means = means.ToArray();
        Indicators = indicators.ToArray();
    }

    /// <summary>
    /// Fits μⱼ on the rows <paramref name="trainRows"/> of <paramref name="data"/> (the training split; validation and test
    /// rows are never read) and, for <see cref="MissingInputs.MeanIndicator"/>, picks the columns with a missing training cell.
    /// </summary>
    /// <exception cref="DataFileException">A numeric column is missing on every training row (its mean is undefined), or an
    /// indicator's name <c>COL_missing</c> is already a feature's name; the message names the column.</exception>
    public static InputImputation Fit(Dataset data, ReadOnlySpan<int> trainRows, MissingInputs policy)
    {
        ArgumentNullException.ThrowIfNull(data);
        if (policy is not (MissingInputs.Mean or MissingInputs.MeanIndicator))
            throw new ArgumentOutOfRangeException(nameof(policy), policy, "Only the Mean and MeanIndicator policies are fitted.");
        if (trainRows.IsEmpty) throw new ArgumentException($"{data.Source}: no training rows to fit the input means on.", nameof(trainRows));
        var columns = data.Schema.NumericInputs;
        int width = data.InputCount;
        var means = new double[columns.Count];
        var indicators = new List<string>();
        for (int j = 0; j < columns.Count; j++)
        {
            double sum = 0;
            int n = 0;
            foreach (int r in trainRows)
            {
                float x = data.Inputs[(long)r * width + j];
                if (!float.IsNaN(x)) { sum += x; n++; }
            }
            if (n == 0)
                throw new DataFileException(data.Source, 0, columns[j],
                    $"the column is missing on all {trainRows.Length} training rows, so its training mean is undefined and --missing-inputs " +
                    $"{(policy == MissingInputs.Mean ? "mean" : "mean-indicator")} cannot fill it. Leave the column out of the inputs, or fill it.");
            means[j] = sum / n;
            if (policy == MissingInputs.MeanIndicator && n < trainRows.Length)
            {
                string name = columns[j] + IndicatorSuffix;
                if (data.InputNames.Contains(name))
                    throw new DataFileException(data.Source, 0, columns[j],
                        $"its missing-value indicator would be named {Excerpt.Quote(name)}, but an input already has that name. Rename that column.");
                indicators.Add(columns[j]);
            }
        }
        return new InputImputation(policy, columns, means, indicators);
    }

    /// <summary>The feature names after imputation: <paramref name="rawNames"/> with <c>COL_missing</c> inserted after the numeric inputs.</summary>
    public IReadOnlyList<string> Names(IReadOnlyList<string> rawNames) =>
        [.. rawNames.Take(Columns.Count), .. Indicators.Select(c => c + IndicatorSuffix), .. rawNames.Skip(Columns.Count)];

    /// <summary>
    /// The imputed rows of <paramref name="raw"/> ([rows × <paramref name="rawWidth"/>], the numeric inputs first, NaN =
    /// missing): [rows × (rawWidth + Indicators.Count)], each NaN replaced by its column's (float)μⱼ and the indicators inserted.
    /// </summary>
    public float[] Apply(ReadOnlySpan<float> raw, int rawWidth)
    {
        int p = Columns.Count, k = Indicators.Count;
        if (rawWidth < p || (rawWidth == 0 ? raw.Length != 0 : raw.Length % rawWidth != 0))
            throw new ArgumentException($"{raw.Length} values are not rows of {rawWidth} inputs starting with the {p} numeric ones.", nameof(raw));
        int rows = rawWidth == 0 ? 0 : raw.Length / rawWidth, width = rawWidth + k;
        var result = new float[(long)rows * width];
        for (int r = 0; r < rows; r++)
        {
            var from = raw.Slice(r * rawWidth, rawWidth);
            var to = result.AsSpan(r * width, width);
            for (int j = 0; j < p; j++)
            {
                bool missing = float.IsNaN(from[j]);
                to[j] = missing ? (float)_means[j] : from[j];
                if (_indicatorOf[j] >= 0) to[p + _indicatorOf[j]] = missing ? 1f : 0f;
            }
            from[p..].CopyTo(to[(p + k)..]);
        }
        return result;
    }

    /// <summary>A copy of <paramref name="raw"/> (a dataset as <see cref="CsvTable"/> loads it, whose numeric inputs are
    /// <see cref="Columns"/>) with its missing numeric cells filled and the indicator columns inserted.</summary>
    public Dataset Apply(Dataset raw)
    {
        ArgumentNullException.ThrowIfNull(raw);
        if (!raw.Schema.NumericInputs.SequenceEqual(Columns))
            throw new ArgumentException($"{raw.Source}'s numeric inputs ({string.Join(", ", raw.Schema.NumericInputs)}) are not those the imputation was fitted on ({string.Join(", ", Columns)}).", nameof(raw));
        return new Dataset(raw.Source, raw.Schema, raw.Encoding, Names(raw.InputNames), Apply(raw.Inputs, raw.InputCount), raw.Tasks, raw.SourceLines, raw.SampleWeights);
    }
}
