using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public sealed partial class Tape<T>
{
    // State of the stacked trunk pass (valid only inside BackwardPerTask).
    private int _stackedTasks;
    private ParameterGroup<T>? _stackedGroup;
    private View<T> _stackedTarget;
    private View<T>[] _boundaryGrads = [];

    /// <summary>Pass numbers are unique across every tape of the process, not just this one: parameters outlive
    /// tapes, and the stacked pass tells a parameter's first write of a pass from later ones by its number.</summary>
    private static int s_lastPass;

    private static int NextPass() => Interlocked.Increment(ref s_lastPass);

    /// <summary>Number of tasks of the stacked pass now running (0 outside <see cref="BackwardPerTask"/>).</summary>
    internal int StackedTasks => _stackedTasks;

    /// <summary>
    /// Every task's gradient of the shared trunk in one go — what gradient surgery (PCGrad, projection, MGDA…)
    /// needs — equal to calling <see cref="Backward(Tensor{T}, ParameterGroup{T}, View{T}, View{T})"/> once per
    /// task, but with the trunk walked once instead of T times:
    /// <list type="number">
    /// <item>each root i is backpropagated through its own head only, down to <paramref name="shared"/> (the
    /// trunk's output); its upstream gradient dZᵢ [batch × width] lands in row block i of one stacked
    /// [T·batch × width] matrix. Head parameters accumulate into their usual gradients, as in a plain pass;</item>
    /// <item>the stacked matrix is then backpropagated through the trunk once. A dense layer's input gradient is
    /// one GEMM with M = T·batch (<c>dX = dZ·W</c> for all tasks: the same W), its weight and bias gradients
    /// T GEMMs / column sums (<c>dWᵢ = dZᵢᵀ·X</c>), each written straight into row i of
    /// <paramref name="perTaskGradients"/>.</item>
    /// </list>
    /// The FLOPs are those of T separate passes; what is saved is T−1 walks of the tape, T−1 small launches per
    /// op, and — on the CPU — GEMMs T times taller for the input gradients (better blocking, fewer forks).
    /// <para>
    /// <paramref name="perTaskGradients"/> is [T × group.Length]: row i receives task i's gradient of the group
    /// (seeded with seeds[i], 1 when <paramref name="seeds"/> is empty). Unlike a plain backward, the rows are
    /// <b>overwritten</b> (no zeroing needed; a group parameter the pass does not reach gets zeros). Leaves
    /// outside the group that lie in the trunk (an input that requires a gradient) accumulate the sum over the
    /// tasks, as T plain passes would leave them.
    /// </para>
    /// <para>
    /// Requirements: every root is a scalar recorded after <paramref name="shared"/>; the heads reach the trunk
    /// only through <paramref name="shared"/>; the trunk (every op recorded up to and including the one that
    /// produced <paramref name="shared"/>) is made of <see cref="Ops.Linear{T}"/>, activation, <see cref="Ops.BatchedLinear{T}"/>,
    /// <see cref="Ops.Softmax{T}"/>, <see cref="Ops.Mixture{T}"/>, <see cref="Ops.SmoothStep{T}"/>, <see cref="Ops.Selectors{T}"/>, <see cref="Ops.SelectorEntropy{T}"/> (as a boundary tensor), <see cref="Ops.Product{T}"/>, <see cref="Ops.Dropout{T}"/>, <see cref="Ops.LayerNorm{T}"/> and <see cref="Ops.EmbedInputs{T}"/> ops (all row-independent).
    /// </para>
    /// </summary>
    /// <param name="roots">The T task losses (scalars).</param>
    /// <param name="shared">The trunk's output: the one tensor every head reads.</param>
    /// <param name="group">The trunk's parameters (their per-task gradients go to the rows).</param>
    /// <param name="perTaskGradients">[T × group.Length], overwritten.</param>
    /// <param name="seeds">T device scalars (e.g. the task weights), or empty for 1.</param>
    public void BackwardPerTask(ReadOnlySpan<Tensor<T>> roots, Tensor<T> shared, ParameterGroup<T> group,
        View<T> perTaskGradients, View<T> seeds = default)
    {
        ArgumentNullException.ThrowIfNull(shared);
        ArgumentNullException.ThrowIfNull(group);
        int tasks = roots.Length;
        Check.Positive(tasks, nameof(roots));
        Check.Length(perTaskGradients, (long)tasks * group.Length, nameof(perTaskGradients));
        if (!seeds.IsEmpty) Check.Length(seeds, tasks, nameof(seeds));
        int sharedIndex = IndexOfRecord(shared);
        if (sharedIndex < 0)
            throw new ArgumentException($"BackwardPerTask: {shared} is not the output of an op recorded on this tape since the last Reset.", nameof(shared));
        for (int t = 0; t < tasks; t++)
        {
            var root = roots[t] ?? throw new ArgumentNullException(nameof(roots), $"roots[{t}] is null.");
            if (root.IsLeaf || !root.RequiresGrad || root.Length != 1)
                throw new ArgumentException($"BackwardPerTask: roots[{t}] is {root}; every root must be a scalar recorded by an op while the tape was recording.", nameof(roots));
        }

        HeadsToRepresentation(roots, shared, seeds, sharedIndex);

        // 2. All tasks at once through the trunk.
        _pass = NextPass();
        shared.GradPass = _pass;
        _stackedTasks = tasks;
        _stackedGroup = group;
        _stackedTarget = perTaskGradients;
        try
        {
            for (int i = sharedIndex; i >= 0; i--) RunStacked(_records[i]);
            // A group parameter the trunk pass never reached has a zero gradient in every row.
            var parameters = group.Parameters;
            for (int p = 0; p < parameters.Count; p++)
                if (parameters[p].GradPass != _pass)
                    for (int t = 0; t < tasks; t++) Backend.Fill(StackedGradOf(parameters[p], out _).For(t), T.Zero);
        }
        finally
        {
            _stackedTasks = 0;
            _stackedGroup = null;
            _stackedTarget = default;
        }
    }

    /// <summary>
    /// The first half of <see cref="BackwardPerTask"/> alone, for methods on the representation gradients (MGDA-UB, Sener &amp;
    /// Koltun 2018 §3.3; LibMTL's <c>rep_grad</c>): each root i backpropagated through its own head only, down to
    /// <paramref name="shared"/> Z, its ∂Lᵢ/∂Z written to row block i of the returned [T × Z.Length] view (the tape's
    /// scratch, valid until the next pass); head parameters accumulate their gradients as in a plain pass. Then
    /// <see cref="Backward(Tensor{T}, View{T})"/> from Z with the combined upstream Σ aᵢ∂Lᵢ/∂Z walks the shared part once.
    /// Same requirements as <see cref="BackwardPerTask"/> (the heads reach the shared part only through Z).
    /// </summary>
    public View<T> BackwardToRepresentation(ReadOnlySpan<Tensor<T>> roots, Tensor<T> shared)
    {
        ArgumentNullException.ThrowIfNull(shared);
        Check.Positive(roots.Length, nameof(roots));
        int sharedIndex = IndexOfRecord(shared);
        if (sharedIndex < 0)
            throw new ArgumentException($"BackwardToRepresentation: {shared} is not the output of an op recorded on this tape since the last Reset.", nameof(shared));
        for (int t = 0; t < roots.Length; t++)
        {
            var root = roots[t] ?? throw new ArgumentNullException(nameof(roots), $"roots[{t}] is null.");
            if (root.IsLeaf || !root.RequiresGrad || root.Length != 1)
                throw new ArgumentException($"BackwardToRepresentation: roots[{t}] is {root}; every root must be a scalar recorded by an op while the tape was recording.", nameof(roots));
        }
        HeadsToRepresentation(roots, shared, default, sharedIndex);
        return shared.StackedGrad;
    }

    /// <summary>Each root through its own head, stopping at <paramref name="shared"/> (record <paramref name="sharedIndex"/>),
    /// whose gradient goes to row block t of <c>shared.StackedGrad</c> [T × shared.Length].</summary>
    private void HeadsToRepresentation(ReadOnlySpan<Tensor<T>> roots, Tensor<T> shared, View<T> seeds, int sharedIndex)
    {
        int tasks = roots.Length;
        int length = shared.Length;
        if (shared.StackedGrad.Length != tasks * length) shared.StackedGrad = Arena.Take(tasks * length);
        var stacked = shared.StackedGrad;

        // 1. Each task through its own head, stopping at the trunk's output (whose gradient goes to row block t).
        var ownGrad = shared.Grad;
        try
        {
            for (int t = 0; t < tasks; t++)
            {
                _pass = NextPass();
                var rowBlock = stacked.Slice(t * length, length);
                shared.Grad = rowBlock;
                Backend.Copy(seeds.IsEmpty ? One : seeds.Slice(t, 1), GradOf(roots[t], out _));
                for (int i = _recordCount - 1; i > sharedIndex; i--)
                {
                    var record = _records[i];
                    if (record.Output.GradPass == _pass) RunBackward(record);
                }
                if (shared.GradPass != _pass) Backend.Fill(rowBlock, T.Zero); // this task does not read the trunk
                for (int i = 0; i < sharedIndex; i++)
                    if (_records[i].Output.GradPass == _pass)
                        throw new InvalidOperationException($"BackwardPerTask: task {t}'s head reaches {_records[i].Output}, which the trunk output {shared} depends on, by another path than {shared}.");
            }
        }
        finally { shared.Grad = ownGrad; }
    }

    /// <summary>
    /// <see cref="BackwardPerTask(ReadOnlySpan{Tensor{T}}, Tensor{T}, ParameterGroup{T}, View{T}, View{T})"/> for a shared
    /// part that the tasks reach through several tensors (PLE: each task's last levels read the shared experts of two
    /// levels and the previous level's task representation). Each task is backpropagated through the ops only it
    /// reaches, stopping at every tensor of <paramref name="boundary"/> (whose gradient lands in that tensor's row block
    /// t); then all tasks go at once through everything recorded that a boundary tensor leads to, boundaries below
    /// others accumulating what they receive from above. A task reaching a parameter of <paramref name="group"/>
    /// other than through the boundary throws (the group's gradients are detached during the per-task walks).
    /// </summary>
    public void BackwardPerTaskThrough(ReadOnlySpan<Tensor<T>> roots, ReadOnlySpan<Tensor<T>> boundary, ParameterGroup<T> group,
        View<T> perTaskGradients, View<T> seeds = default)
    {
        if (boundary.Length == 1) { BackwardPerTask(roots, boundary[0], group, perTaskGradients, seeds); return; }
        ArgumentNullException.ThrowIfNull(group);
        int tasks = roots.Length;
        Check.Positive(tasks, nameof(roots));
        Check.Positive(boundary.Length, nameof(boundary));
        Check.Length(perTaskGradients, (long)tasks * group.Length, nameof(perTaskGradients));
        if (!seeds.IsEmpty) Check.Length(seeds, tasks, nameof(seeds));
        foreach (var b in boundary)
        {
            ArgumentNullException.ThrowIfNull(b, nameof(boundary));
            int index = IndexOfRecord(b);
            if (index < 0) throw new ArgumentException($"BackwardPerTask: {b} is not the output of an op recorded on this tape since the last Reset.", nameof(boundary));
            if (b.StackedGrad.Length != tasks * b.Length) b.StackedGrad = Arena.Take(tasks * b.Length);
        }
        for (int t = 0; t < tasks; t++)
        {
            var root = roots[t] ?? throw new ArgumentNullException(nameof(roots), $"roots[{t}] is null.");
            if (root.IsLeaf || !root.RequiresGrad || root.Length != 1)
                throw new ArgumentException($"BackwardPerTask: roots[{t}] is {root}; every root must be a scalar recorded by an op while the tape was recording.", nameof(roots));
        }

        // 1. Each task through the ops only it reaches; boundary gradients go to their row block t.
        if (_boundaryGrads.Length < boundary.Length) _boundaryGrads = new View<T>[boundary.Length]; // grows once
        var own = _boundaryGrads;
        for (int j = 0; j < boundary.Length; j++) own[j] = boundary[j].Grad;
        var parameters = group.Parameters;
        try
        {
            for (int p = 0; p < parameters.Count; p++) parameters[p].Grad = default;   // reaching one now is an error
            for (int t = 0; t < tasks; t++)
            {
                _pass = NextPass();
                for (int j = 0; j < boundary.Length; j++) boundary[j].Grad = boundary[j].StackedGrad.Slice(t * boundary[j].Length, boundary[j].Length);
                Backend.Copy(seeds.IsEmpty ? One : seeds.Slice(t, 1), GradOf(roots[t], out _));
                for (int i = _recordCount - 1; i >= 0; i--)
                {
                    var record = _records[i];
                    if (record.Output.GradPass != _pass || IsBoundary(boundary, record.Output)) continue;
                    try { RunBackward(record); }
                    catch (InvalidOperationException e) when (ReadsGroup(group, record))
                    {
                        throw new InvalidOperationException($"BackwardPerTask: task {t} reaches a shared parameter through {record.Output}, not through the boundary tensors.", e);
                    }
                }
                foreach (var b in boundary)
                    if (b.GradPass != _pass) Backend.Fill(b.Grad, T.Zero);     // this task does not read it
            }
        }
        finally
        {
            group.RestoreGradients();
            for (int j = 0; j < boundary.Length; j++) boundary[j].Grad = own[j];
        }

        // 2. All tasks at once through everything below the boundary.
        _pass = NextPass();
        foreach (var b in boundary) b.GradPass = _pass;
        _stackedTasks = tasks;
        _stackedGroup = group;
        _stackedTarget = perTaskGradients;
        try
        {
            for (int i = _recordCount - 1; i >= 0; i--) RunStacked(_records[i]);
            for (int p = 0; p < parameters.Count; p++)
                if (parameters[p].GradPass != _pass)
                    for (int t = 0; t < tasks; t++) Backend.Fill(StackedGradOf(parameters[p], out _).For(t), T.Zero);
        }
        finally
        {
            _stackedTasks = 0;
            _stackedGroup = null;
            _stackedTarget = default;
        }
    }

    private static bool ReadsGroup(ParameterGroup<T> group, OpRecord<T> record) =>
        (record.A is { } a && Contains(group, a)) || (record.B is { } b && Contains(group, b)) || (record.C is { } c && Contains(group, c));

    private static bool IsBoundary(ReadOnlySpan<Tensor<T>> boundary, Tensor<T> tensor)
    {
        foreach (var b in boundary) if (ReferenceEquals(b, tensor)) return true;
        return false;
    }

    /// <summary>Runs one record's stacked backward if the stacked pass reached its output.</summary>
    private void RunStacked(OpRecord<T> record)
    {
        if (record.Output.GradPass != _pass) return;
        switch (record.Kind)
        {
            case OpKind.Linear: Ops.LinearBackwardStacked(this, record); break;
            case OpKind.Activation: Ops.ActivationBackwardStacked(this, record); break;
            case OpKind.BatchedLinear: Ops.BatchedLinearBackwardStacked(this, record); break;
            case OpKind.Softmax: Ops.SoftmaxBackwardStacked(this, record); break;
            case OpKind.Mixture: Ops.MixtureBackwardStacked(this, record); break;
            case OpKind.ConcatRows: Ops.ConcatRowsBackwardStacked(this, record); break;
            case OpKind.ConcatColumns: Ops.ConcatColumnsBackwardStacked(this, record); break;
            case OpKind.CrossStitch: Ops.CrossStitchBackwardStacked(this, record); break;
            case OpKind.Dropout: Ops.DropoutBackwardStacked(this, record); break;
            case OpKind.LayerNorm: Ops.LayerNormBackwardStacked(this, record); break;
            case OpKind.Embedding: Ops.EmbeddingBackwardStacked(this, record); break;
            case OpKind.SmoothStep: Ops.SmoothStepBackwardStacked(this, record); break;   // a DSelect-k gate in the shared block
            case OpKind.Selectors: Ops.SelectorsBackwardStacked(this, record); break;
            case OpKind.SelectorEntropy: Ops.SelectorEntropyBackwardStacked(this, record); break; // its term, a boundary (§17.6)
            case OpKind.Product: Ops.ProductBackwardStacked(this, record); break;   // a product task read by a factor's tower (§17.6)
            default:
                throw new NotSupportedException($"BackwardPerTask: the shared part holds a {record.Kind} op ({record.Output}); only dense layers (single or batched over experts), activations, softmaxes, gated mixtures, DSelect-k's smooth-step, selectors and entropy term, element-wise products, row and column concatenations, cross-stitch units, dropout, layer normalization and input embeddings can be backpropagated for all tasks at once. Use one Backward per task instead.");
        }
    }

    /// <summary>Index of the record whose output is <paramref name="tensor"/>, or −1.</summary>
    private int IndexOfRecord(Tensor<T> tensor)
    {
        for (int i = _recordCount - 1; i >= 0; i--)
            if (ReferenceEquals(_records[i].Output, tensor)) return i;
        return -1;
    }

    /// <summary>
    /// Where the stacked pass writes <paramref name="tensor"/>'s gradient for each task, and whether to add to it:
    /// an activation's [tasks × length] stacked buffer (first write of the pass overwrites); a parameter of the
    /// group, its window in each task's row of the per-task buffer (first write overwrites); any other leaf, its
    /// own gradient for every task (leaves accumulate, so it receives the sum over tasks).
    /// </summary>
    internal TaskSlices<T> StackedGradOf(Tensor<T> tensor, out bool accumulate)
    {
        int tasks = _stackedTasks, length = tensor.Length;
        if (tensor.IsLeaf)
        {
            var group = _stackedGroup!;
            if (tensor.Slot is { } slot && Contains(group, tensor))
            {
                accumulate = tensor.GradPass == _pass;
                tensor.GradPass = _pass;
                return new TaskSlices<T>(_stackedTarget, slot.Offset - group.Offset, group.Length, length);
            }
            if (tensor.Grad.IsEmpty)
                throw new InvalidOperationException($"{tensor} requires a gradient but has no gradient buffer.");
            accumulate = true;
            return new TaskSlices<T>(tensor.Grad, 0, 0, length);
        }
        if (tensor.StackedGrad.Length != tasks * length) tensor.StackedGrad = Arena.Take(tasks * length);
        accumulate = tensor.GradPass == _pass;
        tensor.GradPass = _pass;
        return new TaskSlices<T>(tensor.StackedGrad, 0, length, length);
    }

    /// <summary>Backward scratch of tasks × <paramref name="length"/> elements for <paramref name="record"/>, once per forward.</summary>
    internal View<T> StackedScratchOf(OpRecord<T> record, int length)
    {
        int total = _stackedTasks * length;
        if (record.StackedScratch.Length != total) record.StackedScratch = Arena.Take(total);
        return record.StackedScratch;
    }

    private static bool Contains(ParameterGroup<T> group, Tensor<T> tensor)
    {
        var parameters = group.Parameters;
        for (int i = 0; i < parameters.Count; i++)
            if (ReferenceEquals(parameters[i], tensor)) return true;
        return false;
    }
}

/// <summary>
/// One gradient target seen per task: task t's window is <c>Buffer[Offset + t·Stride, … + Length)</c>.
/// Stride = Length is a contiguous [tasks × Length] block (a stacked activation gradient); Stride = the group's
/// length is a column of the per-task buffer; Stride 0 is one shared window every task adds into.
/// </summary>
internal readonly struct TaskSlices<T>(View<T> buffer, int offset, int stride, int length) where T : unmanaged
{
    /// <summary>True when the tasks' windows follow each other with no gap: one [tasks × length] matrix.</summary>
    public bool IsContiguous => stride == length && offset == 0;

    /// <summary>Task <paramref name="task"/>'s window.</summary>
    public View<T> For(int task) => buffer.Slice(offset + task * stride, length);

    /// <summary>All tasks' windows as one view (only when <see cref="IsContiguous"/>).</summary>
    public View<T> All(int tasks) => buffer.Slice(0, tasks * length);
}
