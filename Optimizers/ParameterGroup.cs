using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// A set of parameters with its own learning rate and weight decay (for example one group per task
/// head), like a PyTorch <c>param_group</c>. Parameters that no group names form the default group,
/// which uses the optimizer's options.
/// </summary>
/// <param name="Name">A name for reports, e.g. <c>head.sentiment</c>.</param>
/// <param name="Parameters">Names of the parameters (slots of <see cref="FlatParameters{T}"/>).</param>
public sealed record ParameterGroup(string Name, IReadOnlyList<string> Parameters)
{
    /// <summary>The group's base learning rate (the schedule scales it); null = the optimizer's.</summary>
    public double? LearningRate { get; init; }

    /// <summary>The group's weight decay λ; null = the optimizer's.</summary>
    public double? WeightDecay { get; init; }

    /// <summary>A group of every parameter whose name starts with <paramref name="prefix"/>.</summary>
    public static ParameterGroup WithPrefix<T>(FlatParameters<T> parameters, string prefix, string? name = null) where T : unmanaged
    {
        ArgumentNullException.ThrowIfNull(parameters);
        var names = parameters.Slots.Where(s => s.Name.StartsWith(prefix, StringComparison.Ordinal)).Select(s => s.Name).ToArray();
        if (names.Length == 0) throw new ArgumentException($"No parameter name starts with '{prefix}'.", nameof(prefix));
        return new ParameterGroup(name ?? prefix, names);
    }
}

/// <summary>A resolved parameter group: its hyper-parameters and the contiguous ranges of the flat
/// buffers it covers (one kernel launch per range).</summary>
/// <param name="Name">The group's name ("default" for parameters no group names).</param>
/// <param name="BaseLearningRate">Learning rate before the schedule.</param>
/// <param name="WeightDecay">λ.</param>
/// <param name="Ranges">(offset, length) ranges of the flat buffers, in layout order, adjacent slots merged.</param>
public sealed record ParameterGroupInfo(string Name, double BaseLearningRate, double WeightDecay, IReadOnlyList<(int Offset, int Length)> Ranges);

/// <summary>Turns the user's groups into launch ranges, checking that no parameter is named twice or unknown.</summary>
internal static class ParameterGroups
{
    public static ParameterGroupInfo[] Resolve<T>(FlatParameters<T> parameters, IReadOnlyList<ParameterGroup>? groups,
        double learningRate, double weightDecay) where T : unmanaged
    {
        if (!parameters.IsAllocated) throw new InvalidOperationException("Allocate the parameters (FlatParameters.Allocate) before creating an optimizer.");
        var owner = new Dictionary<string, string>(StringComparer.Ordinal);
        var result = new List<ParameterGroupInfo>();
        foreach (var group in groups ?? [])
        {
            ArgumentNullException.ThrowIfNull(group);
            var slots = new List<ParameterSlot>();
            foreach (string name in group.Parameters)
            {
                ParameterSlot slot;
                try { slot = parameters[name]; }
                catch (KeyNotFoundException) { throw new ArgumentException($"Parameter group '{group.Name}' names '{name}', which is not a parameter of the model.", nameof(groups)); }
                if (!owner.TryAdd(name, group.Name))
                    throw new ArgumentException($"Parameter '{name}' appears in more than one parameter group ('{owner[name]}' and '{group.Name}').", nameof(groups));
                slots.Add(slot);
            }
            if (slots.Count == 0) throw new ArgumentException($"Parameter group '{group.Name}' has no parameters.", nameof(groups));
            result.Add(new ParameterGroupInfo(group.Name, group.LearningRate ?? learningRate, group.WeightDecay ?? weightDecay, Ranges(slots)));
        }
        var rest = parameters.Slots.Where(s => !owner.ContainsKey(s.Name)).ToList();
        if (rest.Count > 0) result.Insert(0, new ParameterGroupInfo("default", learningRate, weightDecay, Ranges(rest)));
        return [.. result];
    }

    /// <summary>Contiguous (offset, length) ranges covering the slots; adjacent slots are merged into one launch.</summary>
    private static (int, int)[] Ranges(List<ParameterSlot> slots)
    {
        var ranges = new List<(int Offset, int Length)>();
        foreach (var slot in slots.OrderBy(s => s.Offset))
        {
            if (ranges.Count > 0 && ranges[^1].Offset + ranges[^1].Length == slot.Offset)
                ranges[^1] = (ranges[^1].Offset, ranges[^1].Length + slot.Length);
            else
                ranges.Add((slot.Offset, slot.Length));
        }
        return [.. ranges];
    }
}
