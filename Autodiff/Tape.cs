using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// Reverse-mode automatic differentiation by recording. Each op (see <see cref="Ops"/>) computes its
/// output on the device and, when any input requires a gradient, appends a record to the tape.
/// <see cref="Backward(Tensor{T}, View{T})"/> walks the records in reverse and applies each op's
/// vector–Jacobian product, accumulating into the gradients of the leaves (parameters, inputs).
/// <para>
/// <b>Several roots over one forward.</b> Backward does not consume the tape: it may be called once per
/// task loss (each time into a gradient target of your choice, see
/// <see cref="Backward(Tensor{T}, ParameterGroup{T}, View{T}, View{T})"/>) and then again from the
/// weighted sum of the losses. Each call is a numbered <i>pass</i>. An activation's gradient buffer is
/// taken from the arena once per forward and reused by every pass; the first write of a pass
/// overwrites it, later writes of the same pass accumulate, so no pass sees another's values and no
/// buffer needs zeroing. An op whose output received nothing in this pass (it does not lead to the
/// root, e.g. the other task's head) is skipped.
/// </para>
/// <para>
/// <b>Memory.</b> Activations and their gradients live in the <see cref="Arena"/>; tensor objects and
/// records come from pools owned by the tape. Call <see cref="Reset"/> at the start of every step: once
/// the pools and the arena have grown to a step's size, a step of the same shape allocates nothing.
/// </para>
/// </summary>
public sealed partial class Tape<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<OpRecord<T>> _records = [];
    private readonly List<Tensor<T>> _tensors = [];
    private readonly DeviceBuffer<T> _one;
    private readonly bool _ownsArena;
    private int _recordCount, _tensorCount;
    private int _pass;
    private bool _noGrad;

    /// <summary>Creates a tape running on <paramref name="backend"/>, taking activations from
    /// <paramref name="arena"/> (a new arena owned by the tape when null).</summary>
    public Tape(Backend<T> backend, Arena<T>? arena = null)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Backend = backend;
        _ownsArena = arena is null;
        Arena = arena ?? new Arena<T>(backend);
        _one = backend.Allocate<T>(1);
        backend.Fill(_one.View, T.One);
    }

    /// <summary>The device every op runs on.</summary>
    public Backend<T> Backend { get; }

    /// <summary>Where activations and their gradients live; reset by <see cref="Reset"/>.</summary>
    public Arena<T> Arena { get; }

    /// <summary>A device scalar holding 1 (the default seed of a backward pass).</summary>
    public View<T> One => _one.View;

    /// <summary>False inside a <see cref="NoGrad"/> scope: ops then compute but record nothing.</summary>
    public bool IsRecording => !_noGrad;

    /// <summary>True while the tape records a training forward: dropout layers then drop (with the mask of
    /// (<see cref="RandomSeed"/>, <see cref="RandomStep"/>, layer, element)); false (the default: evaluation, prediction)
    /// makes them the identity. The training step sets it.</summary>
    public bool Training { get; set; }

    /// <summary>The seed of the dropout masks (the training step uses the model's <c>ModelSpec.Seed</c>).</summary>
    public ulong RandomSeed { get; set; }

    /// <summary>The step number the dropout masks are drawn for (the training step counts its steps from 0 over the whole run).</summary>
    public long RandomStep { get; set; }

    /// <summary>Number of ops recorded since the last <see cref="Reset"/>.</summary>
    public int Count => _recordCount;

    /// <summary>Starts a scope in which ops record nothing (evaluation); dispose it to restore recording.
    /// <code>using (tape.NoGrad()) { var y = model.Forward(tape, x); }</code></summary>
    public NoGradScope NoGrad()
    {
        var scope = new NoGradScope(this, _noGrad);
        _noGrad = true;
        return scope;
    }

    /// <summary>Restores the recording state saved by <see cref="NoGrad"/> (no allocation: a struct).</summary>
    public readonly struct NoGradScope : IDisposable
    {
        private readonly Tape<T> _tape;
        private readonly bool _previous;
        internal NoGradScope(Tape<T> tape, bool previous) { _tape = tape; _previous = previous; }
        /// <summary>Ends the scope.</summary>
        public void Dispose() { if (_tape is not null) _tape._noGrad = _previous; }
    }

    /// <summary>Forgets every record and activation and resets the arena: call once at the start of a step.
    /// Tensors handed out before are invalid afterwards.</summary>
    public void Reset()
    {
        _recordCount = 0;
        _tensorCount = 0;
        Arena.Reset();
    }

    /// <summary>Wraps caller-owned data (a batch of features or targets) as a tensor for this step.
    /// It requires no gradient unless <paramref name="grad"/> is given.</summary>
    public Tensor<T> Input(View<T> data, int rows, int cols, string? name = null, View<T> grad = default)
    {
        Check.Positive(rows, nameof(rows));
        Check.Positive(cols, nameof(cols));
        Check.Length(data, (long)rows * cols, name ?? nameof(data));
        var tensor = NextTensor();
        tensor.Reuse(data, rows, cols, requiresGrad: false, isLeaf: true, name);
        if (!grad.IsEmpty)
        {
            tensor.Grad = grad;
            tensor.RequiresGrad = true;
        }
        return tensor;
    }

    /// <summary>A new activation of the given shape with arena storage. It requires a gradient when the tape is
    /// recording and <paramref name="requiresGrad"/> (any input requires one).</summary>
    internal Tensor<T> NewActivation(int rows, int cols, bool requiresGrad, string? name)
    {
        var tensor = NextTensor();
        tensor.Reuse(Arena.Take(rows * cols), rows, cols, requiresGrad && IsRecording, isLeaf: false, name);
        return tensor;
    }

    /// <summary>Appends a record for <paramref name="output"/> (only called when it requires a gradient).</summary>
    internal OpRecord<T> Record(OpKind kind, Tensor<T> output)
    {
        if (_recordCount == _records.Count) _records.Add(new OpRecord<T>());
        var record = _records[_recordCount++];
        record.Clear(kind, output);
        return record;
    }

    private Tensor<T> NextTensor()
    {
        if (_tensorCount == _tensors.Count) _tensors.Add(new Tensor<T>());
        return _tensors[_tensorCount++];
    }

    /// <summary>
    /// Backpropagates from <paramref name="root"/>: every leaf that requires a gradient and lies on a path to
    /// the root gets <c>grad += seedᵀ·∂root/∂leaf</c>. <paramref name="seed"/> is a device view of root's
    /// length (empty: 1 for a scalar root), so the pass may be scaled by a device-side weight without a
    /// host round-trip. May be called several times over one recorded forward.
    /// </summary>
    public void Backward(Tensor<T> root, View<T> seed = default)
    {
        ArgumentNullException.ThrowIfNull(root);
        if (root.IsLeaf || !root.RequiresGrad)
            throw new InvalidOperationException($"Backward from {root}: the root must be the output of an op recorded while the tape was recording, from inputs that require a gradient.");
        if (seed.IsEmpty)
        {
            if (root.Length != 1)
                throw new ArgumentException($"Backward from the non-scalar {root} needs a seed of {root.Length} elements.", nameof(seed));
            seed = One;
        }
        else Check.Length(seed, root.Length, nameof(seed));

        _pass = NextPass();
        Backend.Copy(seed, GradOf(root, out _));
        for (int i = _recordCount - 1; i >= 0; i--)
        {
            var record = _records[i];
            if (record.Output.GradPass != _pass) continue; // nothing flows back through this op in this pass
            RunBackward(record);
        }
    }

    /// <summary>Applies one record's vector–Jacobian product (dispatch on the op kind: no closures, no allocation).</summary>
    private void RunBackward(OpRecord<T> record)
    {
        switch (record.Kind)
        {
            case OpKind.Linear: Ops.LinearBackward(this, record); break;
            case OpKind.Activation: Ops.ActivationBackward(this, record); break;
            case OpKind.Add: Ops.AddBackward(this, record); break;
            case OpKind.Scale: Ops.ScaleBackward(this, record); break;
            case OpKind.Sum:
            case OpKind.Mean: Ops.ReduceBackward(this, record); break;
            case OpKind.Mse: Ops.MseBackward(this, record); break;
            case OpKind.SoftmaxCrossEntropy: Ops.SoftmaxCrossEntropyBackward(this, record); break;
            case OpKind.MaskedMse: Ops.MaskedMseBackward(this, record); break;
            case OpKind.MaskedSoftmaxCrossEntropy: Ops.MaskedSoftmaxCrossEntropyBackward(this, record); break;
            case OpKind.MaskedBinaryCrossEntropy: Ops.MaskedBinaryCrossEntropyBackward(this, record); break;
            case OpKind.WeightedSoftmaxCrossEntropy: Ops.WeightedSoftmaxCrossEntropyBackward(this, record); break;
            case OpKind.PositiveWeightedBinaryCrossEntropy: Ops.PositiveWeightedBinaryCrossEntropyBackward(this, record); break;
            case OpKind.MaskedSmoothL1: Ops.MaskedSmoothL1Backward(this, record); break;
            case OpKind.WeightedSum: Ops.WeightedSumBackward(this, record); break;
            case OpKind.BatchedLinear: Ops.BatchedLinearBackward(this, record); break;
            case OpKind.Softmax: Ops.SoftmaxBackward(this, record); break;
            case OpKind.Mixture: Ops.MixtureBackward(this, record); break;
            case OpKind.ConcatRows: Ops.ConcatRowsBackward(this, record); break;
            case OpKind.CrossStitch: Ops.CrossStitchBackward(this, record); break;
            case OpKind.Dropout: Ops.DropoutBackward(this, record); break;
            case OpKind.LayerNorm: Ops.LayerNormBackward(this, record); break;
            case OpKind.Embedding: Ops.EmbeddingBackward(this, record); break;
            case OpKind.SmoothStep: Ops.SmoothStepBackward(this, record); break;
            case OpKind.Selectors: Ops.SelectorsBackward(this, record); break;
            case OpKind.SelectorEntropy: Ops.SelectorEntropyBackward(this, record); break;
            case OpKind.Product: Ops.ProductBackward(this, record); break;
            case OpKind.MaskedProbabilityCrossEntropy: Ops.MaskedProbabilityCrossEntropyBackward(this, record); break;
            case OpKind.ConcatColumns: Ops.ConcatColumnsBackward(this, record); break;
            default: throw new InvalidOperationException($"No backward for {record.Kind}.");
        }
    }

    /// <summary>
    /// Backpropagates from <paramref name="root"/> with the gradients of <paramref name="group"/>'s parameters
    /// written into <paramref name="gradients"/> (one window of group.Length elements in the group's flat
    /// layout) instead of their usual place; other parameters (e.g. this task's head) accumulate as usual.
    /// This is how each task's gradient of the shared trunk lands in its own row of a [tasks × shared]
    /// buffer: <c>tape.Backward(loss[i], trunk, perTask.Slice(i·P, P))</c>. Like every leaf gradient it
    /// accumulates: zero the row first.
    /// </summary>
    public void Backward(Tensor<T> root, ParameterGroup<T> group, View<T> gradients, View<T> seed = default)
    {
        ArgumentNullException.ThrowIfNull(group);
        group.RouteGradients(gradients);
        try { Backward(root, seed); }
        finally { group.RestoreGradients(); }
    }

    /// <summary>True when <paramref name="tensor"/> should receive a gradient in this pass.</summary>
    internal static bool Wants(Tensor<T>? tensor) => tensor is { RequiresGrad: true };

    /// <summary>
    /// The buffer to write <paramref name="tensor"/>'s gradient into during this pass, and whether to add to it.
    /// Leaves always accumulate. An activation's buffer comes from the arena on first use; the first write
    /// of each pass overwrites (<paramref name="accumulate"/> = false), later ones add.
    /// </summary>
    internal View<T> GradOf(Tensor<T> tensor, out bool accumulate)
    {
        if (tensor.IsLeaf)
        {
            if (tensor.Grad.IsEmpty)
                throw new InvalidOperationException($"{tensor} requires a gradient but has no gradient buffer.");
            accumulate = true;
            return tensor.Grad;
        }
        if (tensor.Grad.IsEmpty) tensor.Grad = Arena.Take(tensor.Length);
        accumulate = tensor.GradPass == _pass;
        tensor.GradPass = _pass;
        return tensor.Grad;
    }

    /// <summary>Takes backward scratch of <paramref name="length"/> elements for <paramref name="record"/>, once per forward.</summary>
    internal View<T> ScratchOf(OpRecord<T> record, int length)
    {
        if (record.Scratch.IsEmpty) record.Scratch = Arena.Take(length);
        return record.Scratch;
    }

    /// <summary>Frees the device scalar and, if the tape created it, the arena.</summary>
    public void Dispose()
    {
        _one.Dispose();
        if (_ownsArena) Arena.Dispose();
    }
}
