using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// A matrix on a device: its shape, its values (<see cref="Data"/>), and, when it takes part in
/// differentiation, where its gradient goes (<see cref="Grad"/>).
/// <para>
/// Every tensor is two-dimensional and row-major: a batch of activations is <c>rows = batch</c>,
/// <c>cols = features</c>; a vector (a bias) is 1×n; a scalar (a loss) is 1×1. That is all a
/// multi-task trunk of dense layers needs, and it keeps shapes allocation-free (two ints, no arrays).
/// </para>
/// <para>
/// Three kinds of tensor exist. <b>Parameters</b> (<see cref="Parameter"/>) look into the flat parameter
/// buffer and the same window of the flat gradient buffer; their gradients accumulate, as in PyTorch.
/// <b>Inputs</b> (<see cref="Tape{T}.Input"/>) wrap data the caller owns and normally need no gradient.
/// <b>Activations</b> are the outputs of ops: the tape hands them out from a reusable pool, their values
/// and gradients live in the step arena and are valid until <see cref="Tape{T}.Reset"/>.
/// </para>
/// </summary>
public sealed class Tensor<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    internal Tensor() { }

    /// <summary>A leaf tensor over caller-owned storage (a parameter, or an input the gradient check perturbs).</summary>
    /// <param name="data">The values (rows·cols elements).</param>
    /// <param name="rows">Number of rows.</param>
    /// <param name="cols">Number of columns.</param>
    /// <param name="grad">Where the gradient accumulates (rows·cols elements), or empty for none.</param>
    /// <param name="name">A name for diagnostics and gradient-check reports.</param>
    public Tensor(View<T> data, int rows, int cols, View<T> grad = default, string? name = null)
    {
        Check.Positive(rows, nameof(rows));
        Check.Positive(cols, nameof(cols));
        Check.Length(data, (long)rows * cols, name ?? nameof(data));
        if (!grad.IsEmpty) Check.Length(grad, (long)rows * cols, (name ?? "tensor") + ".grad");
        Data = data;
        Rows = rows;
        Cols = cols;
        Grad = grad;
        RequiresGrad = !grad.IsEmpty;
        Name = name;
        IsLeaf = true;
    }

    /// <summary>A parameter of <paramref name="parameters"/>: values and gradient are the slot's windows of
    /// the flat buffers. Shape [out, in] becomes rows×cols; a 1-D shape [n] becomes 1×n; a 3-D shape [E, out, in]
    /// (E experts' weights, stacked) becomes (E·out)×in.</summary>
    public static Tensor<T> Parameter(FlatParameters<T> parameters, ParameterSlot slot)
    {
        ArgumentNullException.ThrowIfNull(parameters);
        ArgumentNullException.ThrowIfNull(slot);
        (int rows, int cols) = slot.Shape.Length switch
        {
            1 => (1, slot.Shape[0]),
            2 => (slot.Shape[0], slot.Shape[1]),
            3 => (slot.Shape[0] * slot.Shape[1], slot.Shape[2]),
            _ => throw new ArgumentException($"Parameter '{slot.Name}' has {slot.Shape.Length} dimensions; tensors are 1-D, 2-D or 3-D.", nameof(slot)),
        };
        return new Tensor<T>(parameters.ValuesOf(slot), rows, cols, parameters.GradientsOf(slot), slot.Name) { Slot = slot };
    }

    /// <summary>Number of rows (the batch dimension for activations).</summary>
    public int Rows { get; private set; }

    /// <summary>Number of columns (features).</summary>
    public int Cols { get; private set; }

    /// <summary>Rows·Cols.</summary>
    public int Length => Rows * Cols;

    /// <summary>The shape as (rows, cols).</summary>
    public (int Rows, int Cols) Shape => (Rows, Cols);

    /// <summary>The values on the device.</summary>
    public View<T> Data { get; private set; }

    /// <summary>
    /// Where backward writes this tensor's gradient. For a leaf it accumulates (<c>grad += …</c>) and may be
    /// pointed anywhere of the right length — e.g. at a row of a per-task gradient buffer
    /// (see <see cref="ParameterGroup{T}"/>). For an activation the tape takes it from the arena on first use.
    /// </summary>
    public View<T> Grad
    {
        get => _grad;
        set
        {
            if (!value.IsEmpty && value.Length != Length)
                throw new ArgumentException($"Gradient of {Name ?? "tensor"} must hold {Length} elements, not {value.Length}.", nameof(value));
            _grad = value;
        }
    }
    private View<T> _grad;

    /// <summary>True when backward should compute this tensor's gradient.</summary>
    public bool RequiresGrad { get; set; }

    /// <summary>True for parameters and inputs (not produced by an op): their gradients accumulate.</summary>
    public bool IsLeaf { get; private set; }

    /// <summary>A name for diagnostics (parameters are named after their slot).</summary>
    public string? Name { get; set; }

    /// <summary>The flat-buffer slot of a parameter (null otherwise).</summary>
    public ParameterSlot? Slot { get; private init; }

    /// <summary>Backward pass number in which an activation's gradient was last written (see <see cref="Tape{T}"/>).</summary>
    internal int GradPass;

    /// <summary>An activation's gradients for every task at once, [tasks × Length], written by the stacked trunk
    /// pass of <see cref="Tape{T}.BackwardPerTask"/> (taken from the arena on first use, like <see cref="Grad"/>).</summary>
    internal View<T> StackedGrad;

    /// <summary>Turns a pooled tensor into a fresh activation or input (no allocation).</summary>
    internal void Reuse(View<T> data, int rows, int cols, bool requiresGrad, bool isLeaf, string? name)
    {
        Data = data;
        Rows = rows;
        Cols = cols;
        _grad = default;
        RequiresGrad = requiresGrad;
        IsLeaf = isLeaf;
        Name = name;
        GradPass = 0;
        StackedGrad = default;
    }

    /// <inheritdoc/>
    public override string ToString() => $"{Name ?? (IsLeaf ? "leaf" : "activation")} [{Rows}×{Cols}]{(RequiresGrad ? " requires grad" : "")}";
}
