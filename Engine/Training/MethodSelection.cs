using System.Globalization;
using Engine.Kernels;
using Engine.Optimizers;

namespace Engine.Training;

/// <summary>
/// Turns a <see cref="StepOptions"/> into the registry's <see cref="MethodPlan"/>: <see cref="StepOptions.Method"/> when it
/// is set, else the names the older enums alias (<see cref="StepOptions.Weighting"/>, <see cref="StepOptions.Combination"/>);
/// the older typed properties become the options they alias (only when changed from their defaults); then
/// <see cref="StepOptions.MethodOptions"/>.
/// </summary>
public static class MethodSelection
{
    private static readonly StepOptions Defaults = new();

    /// <summary>The registry name an older <see cref="WeightingMethod"/> aliases.</summary>
    public static string Name(WeightingMethod w) => w switch
    {
        WeightingMethod.Static => "static",
        WeightingMethod.LossBalanced => "loss-balanced",
        WeightingMethod.Accuracy => "accuracy",
        WeightingMethod.Dwa => "dwa",
        WeightingMethod.Uncertainty => "uncertainty",
        _ => throw new ArgumentOutOfRangeException(nameof(w), w, "Unknown weighting method."),
    };

    /// <summary>The registry name an older <see cref="CombinationMethod"/> aliases.</summary>
    public static string Name(CombinationMethod c) => c switch
    {
        CombinationMethod.Sum => "sum",
        CombinationMethod.Projection => "projection",
        CombinationMethod.PcGrad => "pcgrad",
        CombinationMethod.Mgda => "mgda",
        CombinationMethod.CaGrad => "cagrad",
        _ => throw new ArgumentOutOfRangeException(nameof(c), c, "Unknown combination method."),
    };

    /// <summary>The plan for <paramref name="o"/> and the tasks <paramref name="taskNames"/>; throws
    /// <see cref="ArgumentException"/> naming the option at fault.</summary>
    public static MethodPlan Resolve(StepOptions o, IReadOnlyList<string> taskNames)
    {
        ArgumentNullException.ThrowIfNull(o);
        string name;
        if (o.Method is { } method)
        {
            if (o.Combination != Defaults.Combination || o.Weighting != Defaults.Weighting)
                throw new ArgumentException(
                    $"StepOptions.Method = \"{method}\" and StepOptions.Combination = {o.Combination} / Weighting = {o.Weighting} both name the method: set one (Method supersedes them; e.g. Method = \"{Name(o.Weighting)}+{Name(o.Combination)}\").",
                    nameof(o.Method));
            name = method;
        }
        else name = $"{Name(o.Weighting)}+{Name(o.Combination)}";

        MethodPlan bare;
        try { bare = MethodRegistry.Resolve(name, null, taskNames); }
        catch (ArgumentException e) { throw new ArgumentException($"StepOptions.Method: {e.Message}", nameof(o.Method), e); }

        var given = o.MethodOptions ?? new Dictionary<string, string>();
        var options = new Dictionary<string, string>(given, StringComparer.Ordinal);
        void Alias(string method, string key, string property, bool changed, string value)
        {
            if (!changed || (bare.Weighting.Name != method && bare.Gradient.Name != method)) return;
            if (given.ContainsKey(key) || given.ContainsKey($"{method}.{key}"))
                throw new ArgumentException($"StepOptions.{property} and StepOptions.MethodOptions[\"{key}\"] both set {method}'s '{key}': set one.", property);
            options[$"{method}.{key}"] = value;
        }
        string Real(double v) => v.ToString("R", CultureInfo.InvariantCulture);
        Alias("cagrad", "c", nameof(o.CaGradC), o.CaGradC != Defaults.CaGradC, Real(o.CaGradC));
        Alias("pcgrad", "reduction", nameof(o.PcGradReduction), o.PcGradReduction != Defaults.PcGradReduction, o.PcGradReduction == PcGradReduction.Mean ? "mean" : "sum");
        Alias("projection", "reference", nameof(o.ProjectionReferenceTask), o.ProjectionReferenceTask != Defaults.ProjectionReferenceTask,
            o.ProjectionReferenceTask.ToString(CultureInfo.InvariantCulture));
        Alias("dwa", "temperature", nameof(o.DwaTemperature), o.DwaTemperature != Defaults.DwaTemperature, Real(o.DwaTemperature));
        try { return MethodRegistry.Resolve(name, options, taskNames); }
        catch (ArgumentException e) { throw new ArgumentException($"StepOptions.MethodOptions: {e.Message}", nameof(o.MethodOptions), e); }
    }
}
