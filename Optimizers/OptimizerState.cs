namespace Engine.Optimizers;

/// <summary>
/// An optimizer's state as named host arrays and scalars, ready for a checkpoint (safetensors: one
/// tensor per entry of <see cref="Tensors"/>). Tensor names are <c>{buffer}.{parameter}</c>, e.g.
/// <c>exp_avg.trunk.0.weight</c> (PyTorch's names: <c>exp_avg</c>, <c>exp_avg_sq</c>, <c>max_exp_avg_sq</c>,
/// <c>momentum_buffer</c>); scalars are <c>step</c> (t on the device: applied steps),
/// <c>skipped_steps</c> and <c>schedule_step</c> (Step() calls, the schedule's index).
/// </summary>
public sealed class OptimizerState<T> where T : unmanaged
{
    /// <summary>Creates a state from its entries (the arrays are not copied).</summary>
    public OptimizerState(IReadOnlyDictionary<string, T[]> tensors, IReadOnlyDictionary<string, double> scalars)
        : this(tensors, scalars, s_noFloat64)
    {
    }

    /// <summary>Creates a state with float64 tensors too (a method's float64 state, <see cref="Float64Tensors"/>).</summary>
    public OptimizerState(IReadOnlyDictionary<string, T[]> tensors, IReadOnlyDictionary<string, double> scalars,
        IReadOnlyDictionary<string, double[]> float64Tensors)
    {
        ArgumentNullException.ThrowIfNull(tensors);
        ArgumentNullException.ThrowIfNull(scalars);
        ArgumentNullException.ThrowIfNull(float64Tensors);
        Tensors = tensors;
        Scalars = scalars;
        Float64Tensors = float64Tensors;
    }

    private static readonly IReadOnlyDictionary<string, double[]> s_noFloat64 = new Dictionary<string, double[]>();

    /// <summary>Per-parameter state buffers by name.</summary>
    public IReadOnlyDictionary<string, T[]> Tensors { get; }

    /// <summary>Scalar state by name.</summary>
    public IReadOnlyDictionary<string, double> Scalars { get; }

    /// <summary>State kept in float64 by name (a method's own, <c>method.{name}</c>, e.g. <c>method.gradvac.targets</c>;
    /// a checkpoint stores each as an F64 tensor). Empty for the optimizers.</summary>
    public IReadOnlyDictionary<string, double[]> Float64Tensors { get; }

    /// <summary>Name of the applied-step counter t.</summary>
    public const string Step = "step";
    /// <summary>Name of the skipped-step counter.</summary>
    public const string SkippedSteps = "skipped_steps";
    /// <summary>Name of the number of Step() calls (the schedule's step index).</summary>
    public const string ScheduleStep = "schedule_step";

    /// <summary>Throws unless the state holds exactly the <paramref name="expectedTensors"/> (with these lengths)
    /// and <paramref name="expectedScalars"/>, each a finite whole number ≥ 0.</summary>
    internal void Validate(IReadOnlyDictionary<string, int> expectedTensors, IReadOnlyCollection<string> expectedScalars)
    {
        foreach (var name in Tensors.Keys)
            if (!expectedTensors.ContainsKey(name))
                throw new ArgumentException($"Unknown optimizer state tensor '{name}' (expected names like '{expectedTensors.Keys.FirstOrDefault()}').", "state");
        foreach (var (name, length) in expectedTensors)
        {
            if (!Tensors.TryGetValue(name, out var values) || values is null)
                throw new ArgumentException($"Optimizer state tensor '{name}' is missing.", "state");
            if (values.Length != length)
                throw new ArgumentException($"Optimizer state tensor '{name}' has {values.Length} elements but the parameter has {length}.", "state");
        }
        foreach (var name in Scalars.Keys)
            if (!expectedScalars.Contains(name))
                throw new ArgumentException($"Unknown optimizer state scalar '{name}' (expected: {string.Join(", ", expectedScalars)}).", "state");
        foreach (var name in expectedScalars)
        {
            if (!Scalars.TryGetValue(name, out double value))
                throw new ArgumentException($"Optimizer state scalar '{name}' is missing.", "state");
            if (!(value >= 0) || value != Math.Floor(value) || value > 1L << 53)
                throw new ArgumentException($"Optimizer state scalar '{name}' is {value}; it must be a whole number ≥ 0.", "state");
        }
    }
}
