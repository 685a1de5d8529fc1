namespace Engine.Cli;

/// <summary>
/// The library's option names (<see cref="ArgumentException.ParamName"/> of the engine's checks: <c>ScheduleGamma</c>,
/// <c>gamma</c>, <c>Weighting</c> …) as the flags a <c>mtl</c> user typed, so that a library message that surfaces through
/// the CLI names <c>--gamma</c>, not a C# parameter: "--weighting: Accuracy weighting needs …".
/// </summary>
internal static class FlagNames
{
    private static readonly Dictionary<string, string> s_flags = new(StringComparer.OrdinalIgnoreCase)
    {
        ["LearningRate"] = "--lr", ["lr"] = "--lr", ["baseLearningRate"] = "--lr",
        ["ScheduleGamma"] = "--gamma", ["gamma"] = "--gamma",
        ["MinLearningRate"] = "--min-lr", ["minLearningRate"] = "--min-lr",
        ["ScheduleStepSize"] = "--step-size", ["stepSize"] = "--step-size",
        ["DecaySteps"] = "--decay-steps", ["decaySteps"] = "--decay-steps",
        ["WarmupSteps"] = "--warmup",
        ["Schedule"] = "--schedule", ["Optimizer"] = "--optimizer",
        ["Beta1"] = "--beta1", ["Beta2"] = "--beta2", ["Epsilon"] = "--eps", ["WeightDecay"] = "--weight-decay",
        ["Momentum"] = "--momentum", ["Dampening"] = "--dampening",
        ["Alpha"] = "--alpha",
        ["MaxGradNorm"] = "--clip",
        ["Combination"] = "--combine", ["Weighting"] = "--weighting",
        ["PcGradReduction"] = "--pcgrad-reduction",
        ["ProjectionReferenceTask"] = "--projection-reference", ["referenceTask"] = "--projection-reference",
        ["CaGradC"] = "--cagrad-c",
        ["DwaTemperature"] = "--dwa-temperature", ["temperature"] = "--dwa-temperature",
        ["weights"] = "--task-weight", ["LossWeight"] = "--task-weight",
        ["Epochs"] = "--epochs", ["BatchSize"] = "--batch-size",
        ["EarlyStoppingPatience"] = "--patience", ["EarlyStoppingMinDelta"] = "--min-delta",
    };

    /// <summary>The flag behind the first <see cref="ArgumentException"/> in <paramref name="e"/>'s chain of inner exceptions
    /// whose parameter is an option a flag sets, and that exception's message in the flag's terms; null when there is none.</summary>
    public static (string Flag, string Message)? Describe(Exception e)
    {
        for (Exception? x = e; x is not null; x = x.InnerException)
        {
            if (x is not ArgumentException { ParamName: { } name } a || !s_flags.TryGetValue(name, out var flag)) continue;
            // ArgumentException.Message appends " (Parameter 'x')" and, out of range, "Actual value was v."
            var message = a.Message;
            int parameter = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
            if (parameter >= 0) message = message[..parameter];
            message = message.TrimEnd('.');
            if (a is ArgumentOutOfRangeException { ActualValue: { } actual }) message += $" (the value was {actual})";
            return (flag, $"{flag}: {message}.");
        }
        return null;
    }
}
