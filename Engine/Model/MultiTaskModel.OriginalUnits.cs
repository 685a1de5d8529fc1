using Engine.Data;
using Engine.Kernels;

namespace Engine;

public sealed partial class MultiTaskModel
{
    /// <summary>
    /// Predicts every task for <paramref name="rows"/> raw rows, in original units both ways: <paramref name="rawInputs"/>
    /// ([rows × Spec.Inputs], row-major) is the encoded row as the CSV holds it (numeric columns in their own units, then
    /// the one-hot slots: <see cref="Dataset.Inputs"/>; with an <see cref="Standardization.Imputation"/>, NaN marks a missing numeric
    /// cell and the rows are <see cref="Standardization.RawInputCount"/> wide, then imputed, maths §19.12); the inputs are standardized, z = (x − μ)/σ, the model runs, and
    /// each regression value comes back as x = z·σ + μ with its task's target scale (<see cref="Predictions.Units"/> is
    /// <see cref="PredictionUnits.Original"/>). Classification logits, probabilities and classes are those of
    /// <see cref="Predict"/>.
    /// </summary>
    /// <param name="rawInputs">Raw encoded rows.</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="scale">The standardization the model was trained with; null takes it from <see cref="Metadata"/>
    /// (what <see cref="Load(string, Backend{float})"/> gives back from a checkpoint saved with it).</param>
    /// <exception cref="InvalidOperationException">No <paramref name="scale"/> and none in <see cref="Metadata"/>.</exception>
    /// <exception cref="ArgumentException">Wrong width; a value NaN, ±∞ or more than <see cref="Standardization.MaxStandardizedInput"/>
    /// training standard deviations from the training mean (the message names the row and column); a regression task
    /// the standardization has no scale for.</exception>
    public Predictions PredictOriginalUnits(ReadOnlySpan<float> rawInputs, int rows, Standardization? scale = null)
    {
        scale = ScaleFor(scale);
        Check.Positive(rows, nameof(rows));
        int width = scale.RawInputCount;
        if (rawInputs.Length != (long)rows * width)
            throw new ArgumentException($"rawInputs holds {rawInputs.Length} values; {rows} rows × {width} inputs need {(long)rows * width}.", nameof(rawInputs));
        var x = scale.Imputation?.Apply(rawInputs, width) ?? rawInputs.ToArray();
        if (x.Length != (long)rows * Spec.Inputs)
            throw new ArgumentException($"The standardization scales {scale.Inputs.Width} inputs but the model takes {Spec.Inputs}.", nameof(scale));
        var z = (float[])x.Clone();
        scale.Inputs.Transform(z);
        for (int i = 0; i < z.Length; i++)
        {
            if (float.IsFinite(z[i]) && Math.Abs(z[i]) <= Standardization.MaxStandardizedInput) continue;
            int row = i / Spec.Inputs, column = i % Spec.Inputs;
            throw new ArgumentException($"rawInputs[row {row}, column {column}] = {x[i]:G9} is " +
                $"{(double)(x[i] - scale.Inputs.Mean[column]) / scale.Inputs.Std[column]:G3} training standard deviations from the " +
                $"training mean ({scale.Inputs.Mean[column]:G6}); beyond {Standardization.MaxStandardizedInput:G} (or NaN/±∞) the network overflows float32.",
                nameof(rawInputs));
        }
        return ToOriginalUnits(Predict(z, rows), scale);
    }

    /// <summary>
    /// <see cref="PredictOriginalUnits(ReadOnlySpan{float}, int, Standardization?)"/> on every row of a raw dataset (e.g.
    /// <see cref="CsvTable.Load(string, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, MissingInputs)"/> of new rows, encoded with the model's
    /// <see cref="DataEncoding"/>); an input out of range is a <see cref="DataFileException"/> naming the file, line and column.
    /// </summary>
    public Predictions PredictOriginalUnits(Dataset raw, Standardization? scale = null)
    {
        ArgumentNullException.ThrowIfNull(raw);
        scale = ScaleFor(scale);
        return ToOriginalUnits(Predict(scale.StandardizeInputs(raw), raw.RowCount), scale);
    }

    private Standardization ScaleFor(Standardization? scale) =>
        scale ?? Metadata?.Standardization
        ?? throw new InvalidOperationException("PredictOriginalUnits needs the standardization the model was trained with: pass it, " +
                                               "or load a checkpoint saved with ModelMetadata(standardization, …).");

    private static Predictions ToOriginalUnits(Predictions predictions, Standardization scale)
    {
        foreach (var task in predictions.Tasks) task.ToOriginalUnits(scale);
        return predictions;
    }
}
