namespace Engine.Data;

/// <summary>
/// What an empty, <c>NA</c> or <c>?</c> cell (any of <see cref="CsvTable.MissingMarkers"/>) in a <b>target</b> column
/// means. Missing <i>inputs</i> are <see cref="MissingInputs"/>' concern (an error by default).
/// </summary>
public enum MissingLabels
{
    /// <summary>No label for that task in that row (the default): the row still trains the other tasks; the task's loss
    /// and metrics leave it out. Stored as NaN (regression) or <see cref="ClassTargets.Missing"/> (classification).</summary>
    Allow,

    /// <summary>A load error naming the file, line and column (the behaviour before missing labels were supported).</summary>
    Error,
}
