namespace Engine.Bench.Workloads;

/// <summary>The loss of one head: mean squared error on regression outputs, cross-entropy on class logits.</summary>
public enum HeadKind { Regression, Classification }

/// <summary>One linear head on the trunk's output: <paramref name="Outputs"/> regression values or classes.</summary>
public sealed record HeadShape(HeadKind Kind, int Outputs);

/// <summary>How a step combines the tasks: one backward of the summed loss, or one per task over the trunk
/// followed by PCGrad on the trunk's per-task gradients.</summary>
public enum StepVariant { Sum, PcGrad }

/// <summary>
/// A benchmark workload: a multi-task MLP (ReLU after every trunk layer, one linear head per task) and the
/// batch it trains on. The same three exist in the PyTorch peer (Bench/peers/torch_mtl.py, WORKLOADS).
/// A training step = forward, backward (per variant), global-norm clip at 1.0, Adam (lr 1e-3).
/// </summary>
public sealed record Workload(string Name, int Inputs, int[] Trunk, HeadShape[] Heads, int Batch)
{
    /// <summary>small: 8 → 64 → 64, two regression heads, batch 64.</summary>
    public static Workload Small { get; } = new("small", 8, [64, 64],
        [new(HeadKind.Regression, 1), new(HeadKind.Regression, 1)], 64);

    /// <summary>medium: 256 → 512 → 512, one regression head and two 10-class heads, batch 256.</summary>
    public static Workload Medium { get; } = new("medium", 256, [512, 512],
        [new(HeadKind.Regression, 1), new(HeadKind.Classification, 10), new(HeadKind.Classification, 10)], 256);

    /// <summary>large: 1024 → 2048 → 2048, two regression heads and two 100-class heads, batch 512.</summary>
    public static Workload Large { get; } = new("large", 1024, [2048, 2048],
        [new(HeadKind.Regression, 1), new(HeadKind.Regression, 1), new(HeadKind.Classification, 100), new(HeadKind.Classification, 100)], 512);

    /// <summary>medium-embed: medium plus two categorical columns of 10,000 and 1,000 values embedded in 16 dimensions
    /// (tables 10,001 × 16 and 1,001 × 16) and dropout 0.1 after every trunk layer (issue #14; the peer: nn.Embedding, nn.Dropout).</summary>
    public static Workload MediumEmbed { get; } = new("medium-embed", 256, [512, 512],
        [new(HeadKind.Regression, 1), new(HeadKind.Classification, 10), new(HeadKind.Classification, 10)], 256)
    { Categories = [10_000, 1_000], EmbeddingDim = 16, Dropout = 0.1 };

    /// <summary>Categories of each embedded input column (after the <see cref="Inputs"/> numeric ones); none by default.</summary>
    public int[] Categories { get; init; } = [];

    /// <summary>The embedding dimension of every embedded column.</summary>
    public int EmbeddingDim { get; init; }

    /// <summary>Dropout after every trunk layer (0: none).</summary>
    public double Dropout { get; init; }

    /// <summary>The three plain ones, smallest first (<see cref="MediumEmbed"/> only by name: <c>compare --only medium-embed</c>).</summary>
    public static IReadOnlyList<Workload> All { get; } = [Small, Medium, Large];

    /// <summary>Looks a workload up by name.</summary>
    public static Workload Named(string name) =>
        All.Append(MediumEmbed).FirstOrDefault(w => w.Name == name) ?? throw new ArgumentException($"Unknown workload '{name}' (known: {string.Join(", ", All.Select(w => w.Name))}).", nameof(name));

    /// <summary>Number of tasks (heads).</summary>
    public int Tasks => Heads.Length;

    /// <summary>Width of the trunk's output.</summary>
    public int Width => Trunk[^1];

    /// <summary>Every dense layer as (inputs, outputs): the trunk's, then the heads'.</summary>
    public IEnumerable<(int In, int Out)> TrunkLayers
    {
        get
        {
            int width = Inputs + Categories.Length * EmbeddingDim;
            foreach (int w in Trunk) { yield return (width, w); width = w; }
        }
    }

    /// <summary>Scalar parameters of the trunk (weights and biases).</summary>
    public long TrunkParameters => TrunkLayers.Sum(l => (long)l.In * l.Out + l.Out);

    /// <summary>Scalar parameters of the whole model.</summary>
    public long Parameters => TrunkParameters + Heads.Sum(h => (long)Width * h.Outputs + h.Outputs);

    /// <summary>
    /// Floating-point operations of the GEMMs of one step (2 per multiply-add), as the peer counts them:
    /// every layer's forward once; backward twice (dX and dW) except the first layer, whose input needs no
    /// gradient; the trunk's backward once for <see cref="StepVariant.Sum"/> and once per task for
    /// <see cref="StepVariant.PcGrad"/>. Elementwise work, the loss, clipping, PCGrad's Gram pass and Adam
    /// are left out (they are O(parameters), not O(parameters·batch)).
    /// </summary>
    public double Flops(StepVariant variant)
    {
        double forward = 0, trunkBackward = 0, headBackward = 0;
        bool first = true;
        foreach (var (i, o) in TrunkLayers)
        {
            double layer = 2.0 * Batch * i * o;
            forward += layer;
            trunkBackward += first ? layer : 2 * layer;
            first = false;
        }
        foreach (var head in Heads)
        {
            double layer = 2.0 * Batch * Width * head.Outputs;
            forward += layer;
            headBackward += 2 * layer;
        }
        return forward + headBackward + (variant == StepVariant.PcGrad ? Tasks : 1) * trunkBackward;
    }

    public override string ToString() => Name;
}
