namespace Engine.Data;

/// <summary>
/// What an empty, <c>NA</c> or <c>?</c> cell (any of <see cref="CsvTable.MissingMarkers"/>) in an <b>input</b> column means
/// (maths §19.12; <c>mtl train --missing-inputs</c>). The fitted part — the training means and the indicator columns — is an
/// <see cref="InputImputation"/>, stored with the standardization (<see cref="Standardization.Imputation"/>).
/// </summary>
public enum MissingInputs
{
    /// <summary>A load error naming the file, line and column (the default, and the behaviour before this policy existed).</summary>
    Error,

    /// <summary>A missing numeric cell becomes its column's mean over the training rows (μⱼ, float64, present values only);
    /// a missing embedded cell reads the embedding's reserved row. The model's input width is unchanged.</summary>
    Mean,

    /// <summary>As <see cref="Mean"/>, plus one 0/1 input column <c>COL_missing</c> (1: the cell was missing) for every numeric
    /// input column with a missing cell on the training rows; those columns follow the numeric inputs.</summary>
    MeanIndicator,
}
