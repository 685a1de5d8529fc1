namespace Engine.Data;

/// <summary>Which rows <c>--remove-labels</c> draws from (<see cref="LabelRemoval"/>).</summary>
public enum LabelRemovalScope
{
    /// <summary>Every row of the file, before the split: every split (train, validation, test) loses about the fraction,
    /// and the metrics count the labelled rows left.</summary>
    All,

    /// <summary>The training split only, after it is drawn: round(fraction·training rows) labels go; validation and test keep
    /// every label, so a run with labels removed is scored on the same rows as the run without.</summary>
    Train,
}
