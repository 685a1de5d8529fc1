using System.Text.Json;
using System.Text.Json.Serialization;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// The shape of a multi-task model: <see cref="Inputs"/> features → a shared trunk of dense layers of widths
/// <see cref="Trunk"/> → one head per task (<see cref="Heads"/>). Every trunk layer applies
/// <see cref="TrunkActivation"/> except the last, which applies <see cref="TrunkOutputActivation"/>
/// (default: the same); heads apply none (regression values, or classification logits).
/// Stored in checkpoints as JSON (<see cref="ToJson"/>, metadata key <c>engine.config</c>).
/// </summary>
/// <param name="Inputs">Input features per row.</param>
/// <param name="Trunk">Widths of the trunk's dense layers (at least one).</param>
/// <param name="Heads">The tasks, in the order their losses, weights and gradient rows are laid out.</param>
public sealed record ModelSpec(int Inputs, IReadOnlyList<int> Trunk, IReadOnlyList<TaskHead> Heads)
{
    /// <summary>Activation of the trunk's hidden layers.</summary>
    public Activation TrunkActivation { get; init; } = Activation.Relu;

    /// <summary>Activation of the trunk's last layer (the features the heads read); null = <see cref="TrunkActivation"/>.</summary>
    public Activation? TrunkOutputActivation { get; init; }

    /// <summary>How weights and biases start.</summary>
    public Initializer Initializer { get; init; } = Initializer.PyTorchDefault;

    /// <summary>Seed of the initialization (same seed, same weights on every machine).</summary>
    public ulong Seed { get; init; }

    /// <summary>The width of the features the heads read (the last trunk width).</summary>
    [JsonIgnore] public int TrunkOutputs => Trunk[^1];

    /// <summary>Index of the head called <paramref name="task"/>.</summary>
    public int IndexOf(string task)
    {
        for (int i = 0; i < Heads.Count; i++)
            if (Heads[i].Name == task) return i;
        throw new KeyNotFoundException($"The model has no task '{task}' (tasks: {string.Join(", ", Heads.Select(h => h.Name))}).");
    }

    /// <summary>Throws, naming the field, unless the spec describes a buildable model.</summary>
    public void Validate()
    {
        if (Inputs <= 0) throw new ArgumentOutOfRangeException(nameof(Inputs), Inputs, "ModelSpec.Inputs must be positive.");
        if (Trunk is null || Trunk.Count == 0) throw new ArgumentException("ModelSpec.Trunk needs at least one layer width.", nameof(Trunk));
        for (int i = 0; i < Trunk.Count; i++)
            if (Trunk[i] <= 0) throw new ArgumentOutOfRangeException(nameof(Trunk), Trunk[i], $"ModelSpec.Trunk[{i}] must be positive.");
        if (Heads is null || Heads.Count == 0) throw new ArgumentException("ModelSpec.Heads needs at least one task.", nameof(Heads));
        var names = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < Heads.Count; i++)
        {
            var head = Heads[i] ?? throw new ArgumentNullException(nameof(Heads), $"ModelSpec.Heads[{i}] is null.");
            head.Validate($"ModelSpec.Heads[{i}]");
            if (!names.Add(head.Name)) throw new ArgumentException($"ModelSpec.Heads: task '{head.Name}' appears twice.", nameof(Heads));
        }
        if (!Enum.IsDefined(TrunkActivation)) throw new ArgumentOutOfRangeException(nameof(TrunkActivation), TrunkActivation, "Unknown activation.");
        if (TrunkOutputActivation is { } last && !Enum.IsDefined(last)) throw new ArgumentOutOfRangeException(nameof(TrunkOutputActivation), last, "Unknown activation.");
        if (!Enum.IsDefined(Initializer)) throw new ArgumentOutOfRangeException(nameof(Initializer), Initializer, "Unknown initializer.");
    }

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
    };

    /// <summary>The spec as JSON: <c>{"inputs":…,"trunk":[…],"heads":[{"name":…,"kind":"Regression",…}],"trunkActivation":"Relu",…}</c>.</summary>
    public string ToJson() => JsonSerializer.Serialize(this, s_json);

    /// <summary>Reads what <see cref="ToJson"/> wrote, and validates it.</summary>
    public static ModelSpec FromJson(string json)
    {
        var spec = JsonSerializer.Deserialize<ModelSpec>(json, s_json) ?? throw new JsonException("The model spec JSON is null.");
        spec.Validate();
        return spec;
    }

    /// <summary>Value equality by content (the lists compare element by element).</summary>
    public bool Equals(ModelSpec? other) => other is not null && ToJson() == other.ToJson();

    /// <inheritdoc/>
    public override int GetHashCode() => ToJson().GetHashCode(StringComparison.Ordinal);
}
