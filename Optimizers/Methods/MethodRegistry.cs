namespace Engine.Optimizers;

/// <summary>A resolved choice: one loss weighting and one gradient method, each with its parsed options.</summary>
/// <param name="Weighting">The loss weighting (<c>static</c> when none was named).</param>
/// <param name="WeightingArguments">Its options.</param>
/// <param name="Gradient">The gradient method (<c>sum</c> when none was named).</param>
/// <param name="GradientArguments">Its options.</param>
public sealed record MethodPlan(MethodDescriptor Weighting, MethodArguments WeightingArguments, MethodDescriptor Gradient, MethodArguments GradientArguments)
{
    /// <summary>What the step must compute for the two.</summary>
    public MethodNeeds Needs => Weighting.Needs | Gradient.Needs;

    /// <summary>The pair as <c>weighting+gradient</c>.</summary>
    public override string ToString() => $"{Weighting.Name}+{Gradient.Name}";
}

/// <summary>
/// Every method by name. The library's own are registered at start-up (one line each below: the descriptor is
/// declared by the method's class); <see cref="Register"/> adds more. A step's method is "NAME" or
/// "WEIGHTING+GRADIENT" (one loss weighting, one gradient method; the one left out is <c>static</c> or <c>sum</c>),
/// its options "key=value" where the key is an option of one of the two (or "method.key").
/// </summary>
public static class MethodRegistry
{
    private static readonly object Gate = new();
    private static readonly List<MethodDescriptor> Ordered = [];
    private static readonly Dictionary<string, MethodDescriptor> ByName = new(StringComparer.Ordinal);

    static MethodRegistry()
    {
        // Loss weightings.
        Register(StaticWeighting<float>.EqualMethod);
        Register(StaticWeighting<float>.Method);
        Register(LossBalancedWeighting<float>.Method);
        Register(AccuracyWeighting<float>.Method);
        Register(DynamicWeightAveraging<float>.Method);
        Register(UncertaintyWeighting<float>.Method);
        Register(GeometricLossWeighting<float>.Method);
        Register(RandomLossWeighting<float>.Method);
        Register(ImtlLossWeighting<float>.Method);
        Register(FamoWeighting<float>.Method);
        Register(StchWeighting<float>.Method);
        Register(GradNormWeighting<float>.Method);
        Register(ExcessMtlWeighting<float>.Method);
        Register(DbMtlLossWeighting<float>.Method);
        // Gradient methods.
        Register(SumCombiner<float>.Method);
        Register(ProjectionCombiner<float>.Method);
        Register(PcGradCombiner<float>.Method);
        Register(CaGradCombiner<float>.Method);
        Register(MgdaCombiner<float>.Method);
        Register(MgdaCombiner<float>.UpperBound);
        Register(GradDropCombiner<float>.Method);
        Register(ImtlCombiner<float>.Method);
        Register(AlignedMtlCombiner<float>.Method);
        Register(UpgradCombiner<float>.Method);
        Register(GradVacCombiner<float>.Method);
        Register(NashMtlCombiner<float>.Method);
        Register(FairGradCombiner<float>.Method);
        Register(MocoCombiner<float>.Method);
        Register(DbMtlCombiner<float>.Method);
        // Presets (a weighting and a gradient method together).
        Register(ImtlCombiner<float>.Preset);
        Register(DbMtlCombiner<float>.Preset);
    }

    /// <summary>Every registered method, in registration order (loss weightings first, presets last).</summary>
    public static IReadOnlyList<MethodDescriptor> All
    {
        get { lock (Gate) return Ordered.OrderBy(m => m.Kind).ToArray(); }
    }

    /// <summary>Adds a method; its name must be new.</summary>
    public static void Register(MethodDescriptor method)
    {
        ArgumentNullException.ThrowIfNull(method);
        lock (Gate)
        {
            if (!ByName.TryAdd(method.Name, method))
                throw new ArgumentException($"A method named '{method.Name}' is already registered.", nameof(method));
            Ordered.Add(method);
        }
    }

    /// <summary>The method called <paramref name="name"/>; throws naming the known ones.</summary>
    public static MethodDescriptor Get(string name)
    {
        lock (Gate)
            if (ByName.TryGetValue(name, out var m)) return m;
        throw new ArgumentException($"Unknown method '{name}' (known: {string.Join(", ", All.Select(m => m.Name))}).", nameof(name));
    }

    /// <summary>True when <paramref name="name"/> is registered.</summary>
    public static bool Contains(string name)
    {
        lock (Gate) return ByName.ContainsKey(name);
    }

    /// <summary>
    /// Resolves "NAME" or "WEIGHTING+GRADIENT" with its options (key or method.key → value) for the tasks
    /// <paramref name="taskNames"/>. Throws <see cref="ArgumentException"/> naming what is wrong: an unknown name, two
    /// methods of one kind, an option no chosen method has (or that both have, unqualified), a bad value.
    /// </summary>
    public static MethodPlan Resolve(string method, IReadOnlyDictionary<string, string>? options, IReadOnlyList<string> taskNames)
    {
        ArgumentException.ThrowIfNullOrWhiteSpace(method);
        string expanded = ExpandPresets(method, ref options, taskNames);
        MethodDescriptor? weighting = null, gradient = null;
        foreach (var part in expanded.Split('+', StringSplitOptions.TrimEntries))
        {
            var m = Get(part);
            if (m.Kind == MethodKind.Preset)
                throw new InvalidOperationException($"Preset '{m.Name}' expands to another preset ('{expanded}').");
            ref var slot = ref (m.Kind == MethodKind.LossWeighting ? ref weighting : ref gradient);
            if (slot is not null)
                throw new ArgumentException($"'{method}' names two {(m.Kind == MethodKind.LossWeighting ? "loss weightings" : "gradient methods")} ('{slot.Name}' and '{m.Name}'); give at most one of each, as WEIGHTING+GRADIENT.", nameof(method));
            slot = m;
        }
        weighting ??= Get("static");
        gradient ??= Get("sum");

        var forWeighting = new Dictionary<string, string>(StringComparer.Ordinal);
        var forGradient = new Dictionary<string, string>(StringComparer.Ordinal);
        foreach (var (rawKey, value) in options ?? new Dictionary<string, string>())
        {
            string key = rawKey.Trim();
            int dot = key.IndexOf('.');
            if (dot > 0)
            {
                string owner = key[..dot];
                var target = owner == weighting.Name ? forWeighting : owner == gradient.Name ? forGradient
                    : throw new ArgumentException($"Option '{key}' is for method '{owner}', which '{method}' does not use.", nameof(options));
                target[key[(dot + 1)..]] = value;
                continue;
            }
            bool w = weighting.Option(key) is not null, g = gradient.Option(key) is not null;
            if (w && g)
                throw new ArgumentException($"Option '{key}' belongs to both '{weighting.Name}' and '{gradient.Name}': write '{weighting.Name}.{key}' or '{gradient.Name}.{key}'.", nameof(options));
            if (!w && !g)
            {
                var all = weighting.Options.Select(o => o.Name).Concat(gradient.Options.Select(o => o.Name)).ToArray();
                throw new ArgumentException($"No option '{key}' for '{method}' (its options: {(all.Length == 0 ? "none" : string.Join(", ", all))}).", nameof(options));
            }
            (w ? forWeighting : forGradient)[key] = value;
        }
        return new MethodPlan(weighting, MethodArguments.Parse(weighting, forWeighting, taskNames),
            gradient, MethodArguments.Parse(gradient, forGradient, taskNames));
    }

    /// <summary>Replaces each preset in "A+B" by what its options make it stand for, and takes its options (key or
    /// preset.key) out of <paramref name="options"/>; the other options go on to the methods it names.</summary>
    private static string ExpandPresets(string method, ref IReadOnlyDictionary<string, string>? options, IReadOnlyList<string> taskNames)
    {
        var parts = method.Split('+', StringSplitOptions.TrimEntries);
        if (!parts.Any(p => Contains(p) && Get(p).Kind == MethodKind.Preset)) return method;
        var rest = new Dictionary<string, string>(options ?? new Dictionary<string, string>(), StringComparer.Ordinal);
        for (int i = 0; i < parts.Length; i++)
        {
            if (!Contains(parts[i]) || Get(parts[i]) is not { Kind: MethodKind.Preset } preset) continue;
            var own = new Dictionary<string, string>(StringComparer.Ordinal);
            foreach (var (rawKey, value) in rest.ToArray())
            {
                string key = rawKey.Trim();
                string bare = key.StartsWith(preset.Name + ".", StringComparison.Ordinal) ? key[(preset.Name.Length + 1)..] : key;
                if (preset.Option(bare) is null) continue;
                own[bare] = value;
                rest.Remove(rawKey);
            }
            parts[i] = preset.Expand!(MethodArguments.Parse(preset, own, taskNames));
        }
        options = rest;
        return string.Join('+', parts);
    }
}
