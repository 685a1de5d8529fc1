using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>What a method produces: task weights λ for Σ λᵢLᵢ, or one shared gradient from the per-task ones.</summary>
public enum MethodKind
{
    /// <summary>A loss weighting: writes the task weights λ (T, on the device) that the weighted sum and the gradient
    /// methods read.</summary>
    LossWeighting,
    /// <summary>A gradient method: turns the per-task gradients of the shared parameters (or of the shared
    /// representation) into the one gradient the optimizer applies to the shared parameters.</summary>
    Gradient,
    /// <summary>A preset: a name for a loss weighting and a gradient method used together (IMTL-H is IMTL-L + IMTL-G),
    /// whose options choose which (<see cref="MethodDescriptor.Expand"/>).</summary>
    Preset,
}

/// <summary>What a method needs from the training step; the step computes only what the chosen methods ask for.</summary>
[Flags]
public enum MethodNeeds
{
    /// <summary>Nothing beyond the forward pass.</summary>
    None = 0,
    /// <summary>The task losses Lᵢ of every step (a T-vector on the device, handed over at construction:
    /// <see cref="MethodContext.Losses"/>).</summary>
    Losses = 1,
    /// <summary>The per-task gradients of the shared parameters, [T × shared] (one stacked backward per task).</summary>
    SharedGradients = 2,
    /// <summary>The per-task gradients with respect to the shared representation, [T × B·width]
    /// (LibMTL's <c>rep_grad</c>): combined, then backpropagated through the shared part once.</summary>
    RepresentationGradients = 4,
    /// <summary>The epoch's mean training losses (host, at epoch boundaries).</summary>
    EpochLosses = 8,
    /// <summary>The epoch's training accuracies (host, at epoch boundaries; every task a classification, metrics tracked).</summary>
    EpochAccuracies = 16,
    /// <summary>Parameters of its own, trained with the model by an optimizer of the same kind and saved in checkpoints
    /// (<see cref="MethodContext.LearnedParameters"/>).</summary>
    LearnedParameters = 32,
}

/// <summary>The type of a method option's value.</summary>
public enum MethodOptionKind
{
    /// <summary>A finite real number within [Min, Max].</summary>
    Real,
    /// <summary>An integer within [Min, Max].</summary>
    Integer,
    /// <summary>One of <see cref="MethodOption.Choices"/>.</summary>
    Choice,
    /// <summary>A task, by name or by index.</summary>
    Task,
}

/// <summary>One typed option of a method (<c>--method-option name=value</c>).</summary>
/// <param name="Name">The key, lower case.</param>
/// <param name="Kind">The value's type.</param>
/// <param name="Default">The default, as it would be written on the command line.</param>
/// <param name="Description">One line.</param>
public sealed record MethodOption(string Name, MethodOptionKind Kind, string Default, string Description)
{
    /// <summary>Real/Integer: the smallest value allowed.</summary>
    public double Min { get; init; } = double.NegativeInfinity;
    /// <summary>Real/Integer: the largest value allowed.</summary>
    public double Max { get; init; } = double.PositiveInfinity;
    /// <summary>Real: whether Min itself is excluded.</summary>
    public bool MinExclusive { get; init; }
    /// <summary>Choice: the allowed values.</summary>
    public IReadOnlyList<string> Choices { get; init; } = [];

    /// <summary>A real option in [min, max] (or (min, max] with <paramref name="minExclusive"/>).</summary>
    public static MethodOption Real(string name, double @default, string description, double min = double.NegativeInfinity,
        double max = double.PositiveInfinity, bool minExclusive = false) =>
        new(name, MethodOptionKind.Real, Format(@default), description) { Min = min, Max = max, MinExclusive = minExclusive };

    /// <summary>An integer option in [min, max].</summary>
    public static MethodOption Integer(string name, int @default, string description, int min = int.MinValue, int max = int.MaxValue) =>
        new(name, MethodOptionKind.Integer, Format(@default), description)
        {
            Min = min == int.MinValue ? double.NegativeInfinity : min,
            Max = max == int.MaxValue ? double.PositiveInfinity : max,
        };

    /// <summary>A choice among <paramref name="choices"/>.</summary>
    public static MethodOption Choice(string name, string @default, string description, params string[] choices) =>
        new(name, MethodOptionKind.Choice, @default, description) { Choices = choices };

    /// <summary>A task (name or index), default the first.</summary>
    public static MethodOption Task(string name, string description) => new(name, MethodOptionKind.Task, "0", description);

    /// <summary>The allowed values, as help text shows them.</summary>
    public string Domain => Kind switch
    {
        MethodOptionKind.Choice => string.Join('|', Choices),
        MethodOptionKind.Task => "task name or index",
        MethodOptionKind.Integer => Range("integer"),
        _ => Range("real"),
    };

    private string Range(string what) => (double.IsNegativeInfinity(Min), double.IsPositiveInfinity(Max)) switch
    {
        (true, true) => what,
        (false, true) => $"{what} {(MinExclusive ? ">" : "≥")} {Format(Min)}",
        (true, false) => $"{what} ≤ {Format(Max)}",
        _ => $"{what} in {(MinExclusive ? "(" : "[")}{Format(Min)}, {Format(Max)}]",
    };

    internal static string Format(double value) => value.ToString("R", System.Globalization.CultureInfo.InvariantCulture);
}

/// <summary>
/// A registered method: its name (lower case, as LibMTL spells it), what it is, what it needs from the step, its typed
/// options, and how to build it. Each method's class declares its own descriptor (a static <c>Method</c> property next
/// to the code), and <see cref="MethodRegistry"/> lists them; adding a method is one class plus one line there (or a
/// call to <see cref="MethodRegistry.Register"/> from outside the library).
/// </summary>
public sealed record MethodDescriptor
{
    /// <summary>A descriptor; exactly one of the factories (or <paramref name="preset"/>) must be given.</summary>
    public MethodDescriptor(string name, string summary, string reference, MethodNeeds needs, IReadOnlyList<MethodOption> options,
        Func<MethodContext, ITaskWeighting<float>>? weighting = null, Func<MethodContext, IGradientCombiner<float>>? gradient = null,
        Func<MethodArguments, string>? preset = null)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(name);
        if (name != name.ToLowerInvariant() || name.Contains('+') || name.Contains(' '))
            throw new ArgumentException($"Method name '{name}' must be lower case without '+' or spaces.", nameof(name));
        if ((weighting is null ? 0 : 1) + (gradient is null ? 0 : 1) + (preset is null ? 0 : 1) != 1)
            throw new ArgumentException($"Method '{name}' must give exactly one factory (a weighting, a gradient method or a preset).");
        var keys = new HashSet<string>(StringComparer.Ordinal);
        foreach (var o in options)
            if (!keys.Add(o.Name)) throw new ArgumentException($"Method '{name}' declares option '{o.Name}' twice.", nameof(options));
        Name = name;
        Summary = summary;
        Reference = reference;
        Needs = needs;
        Options = options;
        CreateWeighting = weighting;
        CreateGradient = gradient;
        Expand = preset;
    }

    /// <summary>The registry and command-line name.</summary>
    public string Name { get; }
    /// <summary>One line: what it does.</summary>
    public string Summary { get; }
    /// <summary>The paper (authors, year) or "—".</summary>
    public string Reference { get; }
    /// <summary>What the step must compute for it.</summary>
    public MethodNeeds Needs { get; }
    /// <summary>Its typed options.</summary>
    public IReadOnlyList<MethodOption> Options { get; }
    /// <summary>Builds the weighting (loss weightings).</summary>
    public Func<MethodContext, ITaskWeighting<float>>? CreateWeighting { get; }
    /// <summary>Builds the combiner (gradient methods).</summary>
    public Func<MethodContext, IGradientCombiner<float>>? CreateGradient { get; }
    /// <summary>Presets: the "WEIGHTING+GRADIENT" (or single name) the preset stands for, given its parsed options.</summary>
    public Func<MethodArguments, string>? Expand { get; }
    /// <summary>Loss weighting, gradient method or preset.</summary>
    public MethodKind Kind => CreateWeighting is not null ? MethodKind.LossWeighting
        : CreateGradient is not null ? MethodKind.Gradient : MethodKind.Preset;

    /// <summary>The option called <paramref name="name"/>, or null.</summary>
    public MethodOption? Option(string name) => Options.FirstOrDefault(o => o.Name == name);
}

/// <summary>What a method's factory is given: the device, the task count and names, its parsed options, and the
/// device buffers it declared it needs (views stay valid for the step's lifetime).</summary>
public sealed class MethodContext
{
    /// <summary>The device.</summary>
    public required Backend<float> Backend { get; init; }
    /// <summary>The task names, head order.</summary>
    public required IReadOnlyList<string> TaskNames { get; init; }
    /// <summary>Number of tasks T.</summary>
    public int Tasks => TaskNames.Count;
    /// <summary>The heads' static loss weights λᵢ (<c>static</c> uses them).</summary>
    public required IReadOnlyList<double> LossWeights { get; init; }
    /// <summary>The run's seed (random methods derive their streams from it).</summary>
    public int Seed { get; init; }
    /// <summary>The method's options, parsed and checked.</summary>
    public required MethodArguments Arguments { get; init; }
    /// <summary>The number P of shared parameters whose per-task gradients a gradient method combines (0 when not known;
    /// a method keeping a T × P state, as <c>moco</c>, <c>db-mtl-g</c> or <c>excess-mtl</c>, allocates it at construction).</summary>
    public int SharedLength { get; init; }
    /// <summary>The step's task-loss vector (T, on the device; rewritten every step before the methods run).</summary>
    public View<float> Losses { get; init; }
    /// <summary>With <see cref="MethodNeeds.LearnedParameters"/>: where to register parameters (not yet allocated); the step
    /// allocates them after construction and then calls <see cref="ILearnedWeighting.InitializeParameters"/>.</summary>
    public FlatParameters<float>? LearnedParameters { get; init; }
}

/// <summary>A weighting with learned parameters: set their initial values once the flat buffer is allocated.</summary>
public interface ILearnedWeighting
{
    /// <summary>Writes the initial values of the registered parameters.</summary>
    void InitializeParameters();
}

/// <summary>A method with state of its own that is not a parameter trained by the model's optimizer (FAMO's logits, their
/// Adam moments, the previous losses): the step saves each named view with its state as <c>method.{name}</c>
/// (<c>TrainingStep.SaveState</c>) and restores it on resume, so a resumed run continues exactly.</summary>
public interface IMethodState<T> where T : unmanaged
{
    /// <summary>The state as named device views (names hold dots, e.g. <c>famo.logits</c>; the views stay valid for the
    /// method's lifetime).</summary>
    IReadOnlyList<(string Name, View<T> Values)> StateBuffers { get; }

    /// <summary>State a method's float64 solver keeps in float64 (GradVac's cosine targets and step count), named as
    /// <see cref="StateBuffers"/>; saved as F64 tensors (<see cref="OptimizerState{T}.Float64Tensors"/>), so bit for bit.
    /// Empty by default.</summary>
    IReadOnlyList<(string Name, View<double> Values)> Float64StateBuffers => [];
}

/// <summary>A method whose step rewrites part of its state in one pass that reads each old value anyway (MoCo's tracked
/// gradients, DB-MTL's moving averages, ExcessMTL's sums of squares: T × P each). That pass can also write the old values
/// to where the skipped-step guard keeps them (the <c>saved</c> argument of <see cref="Backend{T}.MocoTrack"/>,
/// <see cref="Backend{T}.DbMtlAverage"/>, <see cref="Backend{T}.ExcessRisks"/>), so that the guard copies nothing before
/// the step — one more write stream in the pass instead of a read and a write of the whole state. The method promises
/// that each step runs that pass exactly once, before anything can skip the step.</summary>
public interface IStateSavedByItsPass<T> where T : unmanaged
{
    /// <summary>The view of <see cref="IMethodState{T}.StateBuffers"/> the pass rewrites.</summary>
    View<T> SavedByItsPass { get; }

    /// <summary>From now on each step's pass writes <see cref="SavedByItsPass"/>, as it was before the pass, to
    /// <paramref name="saved"/> (as long; the caller owns it; the pass's kernel checks both).</summary>
    void SaveBeforeItsPass(View<T> saved);
}

/// <summary>A weighting that learns from the batch's losses after the model step (FAMO as its authors run it): the step
/// then runs the forward pass over the same batch a second time (same dropout masks, no backward) and hands it those
/// losses.</summary>
public interface IReevaluatingWeighting<T> where T : unmanaged
{
    /// <summary>Whether this instance wants the second forward (an option may turn it off).</summary>
    bool ReevaluatesBatch { get; }

    /// <summary>After the optimizer step, from the same batch's task losses at the new parameters (T, on the device).</summary>
    void AfterStep(View<T> lossesAfterStep);
}
