using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>The differentiable operations the tape knows how to run backward.</summary>
internal enum OpKind
{
    Linear,
    Activation,
    Add,
    Scale,
    Sum,
    Mean,
    Mse,
    SoftmaxCrossEntropy,
    MaskedMse,
    MaskedSoftmaxCrossEntropy,
    MaskedBinaryCrossEntropy,
    MaskedSmoothL1,
    WeightedSum,
    BatchedLinear,
    Softmax,
    Mixture,
    ConcatRows,
    CrossStitch,
    SmoothStep,
    Selectors,
    SelectorEntropy,
}

/// <summary>
/// One entry of the tape: which op ran, on what, and what its backward needs. Records are pooled by the
/// tape and overwritten in place, so recording a step allocates nothing once the pool has grown to the
/// step's length. Backward is dispatched on <see cref="Kind"/> (a switch in <see cref="Tape{T}"/>), not
/// through closures, for the same reason.
/// </summary>
internal sealed class OpRecord<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public OpKind Kind;
    public Tensor<T> Output = null!;
    public Tensor<T>? A, B, C;
    public Activation Activation;
    public T Alpha;
    /// <summary>A second scalar of an op (the smooth-L1 loss's scale; its β is <see cref="Alpha"/>).</summary>
    public T Scale;
    /// <summary>Number of groups of an op over groups of rows (the experts of a batched linear or a mixture).</summary>
    public int Groups;
    public View<int> Labels;
    /// <summary>Saved by the forward for the backward (softmax probabilities, stacked losses, 1/n constants).</summary>
    public View<T> Saved;
    /// <summary>Backward-only scratch (the pre-activation gradient of a fused linear), taken from the arena on first use.</summary>
    public View<T> Scratch;
    /// <summary>The same scratch for every task at once ([tasks × output length]), for the stacked trunk pass.</summary>
    public View<T> StackedScratch;
    /// <summary>The labelled count n of a masked loss (a device scalar its forward wrote, its backward reads).</summary>
    public View<T> Count;
    /// <summary>Variadic inputs (the losses of a weighted sum); cleared, never shrunk.</summary>
    public readonly List<Tensor<T>> Inputs = [];

    public void Clear(OpKind kind, Tensor<T> output)
    {
        Kind = kind;
        Output = output;
        A = B = C = null;
        Activation = Activation.Identity;
        Alpha = T.Zero;
        Scale = T.Zero;
        Groups = 0;
        Labels = default;
        Saved = default;
        Scratch = default;
        StackedScratch = default;
        Count = default;
        Inputs.Clear();
    }
}
