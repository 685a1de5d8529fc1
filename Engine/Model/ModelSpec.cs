using System.Text.Json;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// The shape of a multi-task model: <see cref="Inputs"/> features → a shared part (<see cref="Architecture"/>; by
/// default a shared trunk of dense layers of widths <see cref="Trunk"/>) → one tower per task (<see cref="Tower"/>,
/// none by default) → one output layer per task (<see cref="Heads"/>). Every layer of the shared part's MLPs (the
/// trunk, each expert, each column) applies <see cref="TrunkActivation"/> except the last, which applies
/// <see cref="TrunkOutputActivation"/> (default: the same); tower layers apply <see cref="TrunkActivation"/>; output
/// layers apply none (regression values, or classification logits). <see cref="Dropout"/> adds a dropout layer after every
/// dense layer of the shared part and the towers, <see cref="LayerNorm"/> a layer normalization before its activation.
/// Stored in checkpoints as JSON (<see cref="ToJson"/>, metadata key <c>engine.config</c>).
/// </summary>
/// <param name="Inputs">Input features per row.</param>
/// <param name="Trunk">Widths of the dense layers of the shared part's MLPs (at least one): the trunk of a shared bottom,
/// each expert of a mixture of experts.</param>
/// <param name="Heads">The tasks, in the order their losses, weights and gradient rows are laid out.</param>
public sealed record ModelSpec(int Inputs, IReadOnlyList<int> Trunk, IReadOnlyList<TaskHead> Heads)
{
    /// <summary>Activation of the trunk's hidden layers.</summary>
    public Activation TrunkActivation { get; init; } = Activation.Relu;

    /// <summary>Activation of the trunk's last layer (the features the heads read); null = <see cref="TrunkActivation"/>.</summary>
    public Activation? TrunkOutputActivation { get; init; }

    /// <summary>The shared part: null = a shared bottom (<see cref="SharedBottomArchitecture"/>); e.g.
    /// a mixture of experts. Written to checkpoints as <c>"architecture":{"kind":"mmoe",…}</c>.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public Architecture? Architecture { get; init; }

    /// <summary>Widths of every task's tower (the MLP between the shared part and the task's output layer,
    /// <c>towers.{task}.{i}</c>); null or empty = no tower (the output layer reads the shared features).</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<int>? Tower { get; init; }

    /// <summary>Dropout probability p ∈ [0, 1) after every dense layer of the shared part's MLPs (the trunk, each expert,
    /// each cross-stitch column) and of the towers, after its activation; not after the output layers. Inverted dropout
    /// (kept values scaled by 1/(1 − p)) while training, the identity when evaluating or predicting; the masks are drawn
    /// from (<see cref="Seed"/>, step, layer, element) by Philox-4x32-10 (docs/maths.md §21.1). 0 (the default): no dropout
    /// layer at all. Written to checkpoints only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public double Dropout { get; init; }

    /// <summary>Layer normalization (PyTorch's <c>nn.LayerNorm</c>, ε = 1e-5, learnable γ, β) between the affine map and the
    /// activation of every dense layer of the shared part's MLPs and of the towers: y = f(LN(x·Wᵀ + b)), parameters
    /// <c>{layer}.norm.weight</c>, <c>{layer}.norm.bias</c> (one row per expert or column after a batched layer);
    /// docs/maths.md §21.2. Written to checkpoints only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingDefault)]
    public bool LayerNorm { get; init; }

    /// <summary>Categorical columns the model embeds (<c>--embed</c>): the last Embeddings.Count input columns hold their
    /// category indices, in this order; each becomes a row of its table <c>embeddings.{t}.weight</c>, concatenated after the
    /// other inputs before the shared part (docs/maths.md §21.3). The tables are shared parameters. Null or empty: none.
    /// Written to checkpoints only when set.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public IReadOnlyList<EmbeddingSpec>? Embeddings { get; init; }

    /// <summary>The embedded columns (empty when there are none).</summary>
    [JsonIgnore] public IReadOnlyList<EmbeddingSpec> EmbeddedColumns => Embeddings ?? [];

    /// <summary>Inputs the model passes through unembedded (the numeric and one-hot columns, before the index columns).</summary>
    [JsonIgnore] public int PassThroughInputs => Inputs - EmbeddedColumns.Count;

    /// <summary>The width the shared part reads: the passed-through inputs plus every embedding's dimension.</summary>
    [JsonIgnore] public int SharedInputs => PassThroughInputs + EmbeddedColumns.Sum(e => e.Dim);

    /// <summary>Ordered tasks (docs/maths.md §17.6): tasks defined as products of other tasks' probabilities (ESMM's
    /// pCTCVR = pCTR·pCVR) and tasks without a loss of their own. A product task has no tower and no output layer (no
    /// parameters); its output is a probability, trained with the binary cross-entropy of a probability (§19.7). Null:
    /// every task independent. Written to checkpoints only when set (<c>"graph":{"products":{…},"unsupervised":[…]}</c>).
    /// <see cref="TaskGraph.Inputs"/>: towers that also read other tasks' predictions (§17.7). Today the model runs graphs on a
    /// shared bottom, trained by the weighted sum of losses.</summary>
    [JsonIgnore(Condition = JsonIgnoreCondition.WhenWritingNull)]
    public TaskGraph? Graph { get; init; }

    /// <summary>True when task <paramref name="task"/> is a product of other tasks (<see cref="Graph"/>).</summary>
    public bool IsProduct(int task) => Graph is { } g && g.Products.ContainsKey(Heads[task].Name);

    /// <summary>True when task <paramref name="task"/> has no loss of its own (<see cref="TaskGraph.Unsupervised"/>).</summary>
    public bool IsUnsupervised(int task) => Graph is { } g && g.Unsupervised.Contains(Heads[task].Name, StringComparer.Ordinal);

    /// <summary>How weights and biases start.</summary>
    public Initializer Initializer { get; init; } = Initializer.PyTorchDefault;

    /// <summary>Seed of the initialization (same seed, same weights on every machine).</summary>
    public ulong Seed { get; init; }

    /// <summary>The width of the last layer of the shared part's MLPs (the trunk's output, an expert's output).</summary>
    [JsonIgnore] public int TrunkOutputs => Trunk[^1];

    /// <summary>The tower widths (empty when there is no tower).</summary>
    [JsonIgnore] public IReadOnlyList<int> TowerWidths => Tower ?? [];

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
        var embedded = new HashSet<string>(StringComparer.Ordinal);
        for (int i = 0; i < EmbeddedColumns.Count; i++)
        {
            var e = EmbeddedColumns[i] ?? throw new ArgumentNullException(nameof(Embeddings), $"ModelSpec.Embeddings[{i}] is null.");
            e.Validate(i);
            if (!embedded.Add(e.Column)) throw new ArgumentException($"ModelSpec.Embeddings: column '{e.Column}' is embedded twice.", nameof(Embeddings));
        }
        if (EmbeddedColumns.Count > Inputs)
            throw new ArgumentException($"ModelSpec.Embeddings: {EmbeddedColumns.Count} embedded columns but only {Inputs} inputs.", nameof(Embeddings));
        if (!Enum.IsDefined(TrunkActivation)) throw new ArgumentOutOfRangeException(nameof(TrunkActivation), TrunkActivation, "Unknown activation.");
        if (TrunkOutputActivation is { } last && !Enum.IsDefined(last)) throw new ArgumentOutOfRangeException(nameof(TrunkOutputActivation), last, "Unknown activation.");
        if (!(Dropout >= 0 && Dropout < 1))
            throw new ArgumentOutOfRangeException(nameof(Dropout), Dropout, "ModelSpec.Dropout (--dropout) must lie in [0, 1).");
        if (!Enum.IsDefined(Initializer)) throw new ArgumentOutOfRangeException(nameof(Initializer), Initializer, "Unknown initializer.");
        for (int i = 0; i < TowerWidths.Count; i++)
            if (TowerWidths[i] <= 0) throw new ArgumentOutOfRangeException(nameof(Tower), TowerWidths[i], $"ModelSpec.Tower[{i}] must be positive.");
        Engine.Architecture.Of(this).Validate(this);
        Graph?.Order(Heads); // names, kinds, cycles
    }

    private static readonly JsonSerializerOptions s_json = new()
    {
        PropertyNamingPolicy = JsonNamingPolicy.CamelCase,
        Converters = { new JsonStringEnumConverter() },
        TypeInfoResolver = new DefaultJsonTypeInfoResolver { Modifiers = { Engine.Architecture.AddPolymorphism } },
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
