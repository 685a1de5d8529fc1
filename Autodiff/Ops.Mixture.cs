using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// The ops of a mixture of experts (docs/maths.md §17.2): E dense layers in one batched GEMM, the softmax over experts
/// of a gate, and the gated mixture Σₑ gₑ·Eₑ(x). Expert activations are stored expert-major, [E·batch × width]: expert
/// e's rows are the contiguous block e, so every expert's GEMM reads and writes a dense matrix.
/// </summary>
public static partial class Ops
{
    /// <summary>
    /// E dense layers at once: <c>Yₑ = f(Xₑ·Wₑᵀ + bₑ)</c>, e = 0…E−1, in one <see cref="Backend{T}.BatchedGemm"/>.
    /// W is [E·out × in] (the E weights stacked, a parameter of shape [E, out, in]), b is E·out elements ([E, out]) or
    /// null. X is either [batch × in], read by every expert (the model's input), or expert-major [E·batch × in] (the
    /// previous expert layer's output). Y is expert-major [E·batch × out].
    /// </summary>
    public static Tensor<T> BatchedLinear<T>(this Tape<T> tape, Tensor<T> x, Tensor<T> weight, Tensor<T>? bias, int experts, int batch,
        Activation activation = Activation.Identity) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(weight);
        Check.Positive(experts, nameof(experts));
        Check.Positive(batch, nameof(batch));
        if (x.Rows != batch && x.Rows != experts * batch)
            throw new ArgumentException($"BatchedLinear: {x} must have {batch} rows (one input for every expert) or {experts}·{batch} (one block per expert).", nameof(x));
        if (weight.Rows % experts != 0 || weight.Cols != x.Cols)
            throw new ArgumentException($"BatchedLinear: {weight} must be [{experts}·out × {x.Cols}] for {experts} experts reading {x}.", nameof(weight));
        int outputs = weight.Rows / experts, inputs = x.Cols;
        if (bias is not null && bias.Length != experts * outputs)
            throw new ArgumentException($"BatchedLinear: {bias} must hold {experts}·{outputs} elements.", nameof(bias));
        bool sharedInput = x.Rows == batch && experts > 1;
        bool requiresGrad = x.RequiresGrad || weight.RequiresGrad || (bias?.RequiresGrad ?? false);
        var y = tape.NewActivation(experts * batch, outputs, requiresGrad, "experts");
        tape.Backend.BatchedGemm(false, true, batch, outputs, inputs, T.One, x.Data, sharedInput ? 0 : batch * inputs,
            weight.Data, outputs * inputs, T.Zero, y.Data, batch * outputs, experts, bias?.Data ?? default, outputs, activation);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.BatchedLinear, y);
            record.A = x;
            record.B = weight;
            record.C = bias;
            record.Activation = activation;
            record.Groups = experts;
        }
        return y;
    }

    /// <summary>
    /// Per expert, as <see cref="LinearBackward{T}"/>: dZₑ = dYₑ ⊙ f′(Yₑ), dWₑ = dZₑᵀ·Xₑ, dbₑ = 1ᵀ·dZₑ (both one batched GEMM),
    /// dXₑ = dZₑ·Wₑ (one batched GEMM), or, for an input every expert read, dX = Σₑ dZₑ·Wₑ (E GEMMs accumulating).
    /// </summary>
    internal static void BatchedLinearBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        var dZ = y.Grad;
        if (record.Activation != Activation.Identity)
        {
            dZ = tape.ScratchOf(record, y.Length);
            tape.Backend.ActivationBackwardFromOutput(record.Activation, y.Data, y.Grad, dZ, accumulate: false);
        }
        var w = record.B!;
        var b = record.C;
        if (Tape<T>.Wants(record.A)) { var dX = tape.GradOf(record.A!, out bool acc); BatchedInputGradient(tape, record, dZ, dX, acc); }
        if (Tape<T>.Wants(w)) { var dW = tape.GradOf(w, out bool acc); BatchedWeightGradient(tape, record, dZ, dW, acc); }
        if (Tape<T>.Wants(b)) { var db = tape.GradOf(b!, out bool acc); BatchedBiasGradient(tape, record, dZ, db, acc); }
    }

    /// <summary><see cref="BatchedLinearBackward{T}"/> for every task of <see cref="Tape{T}.BackwardPerTask"/>: the
    /// same three gradients from each task's block of the stacked upstream gradient.</summary>
    internal static void BatchedLinearBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int tasks = tape.StackedTasks;
        var y = record.Output;
        int length = y.Length;
        var dZ = y.StackedGrad;
        if (record.Activation != Activation.Identity)
        {
            var dY = dZ;
            dZ = tape.StackedScratchOf(record, length);
            for (int t = 0; t < tasks; t++)
                tape.Backend.ActivationBackwardFromOutput(record.Activation, y.Data, dY.Slice(t * length, length), dZ.Slice(t * length, length), accumulate: false);
        }
        if (Tape<T>.Wants(record.A))
        {
            var dX = tape.StackedGradOf(record.A!, out bool acc);
            for (int t = 0; t < tasks; t++) BatchedInputGradient(tape, record, dZ.Slice(t * length, length), dX.For(t), acc);
        }
        if (Tape<T>.Wants(record.B))
        {
            var dW = tape.StackedGradOf(record.B!, out bool acc);
            for (int t = 0; t < tasks; t++) BatchedWeightGradient(tape, record, dZ.Slice(t * length, length), dW.For(t), acc);
        }
        if (Tape<T>.Wants(record.C))
        {
            var db = tape.StackedGradOf(record.C!, out bool acc);
            for (int t = 0; t < tasks; t++) BatchedBiasGradient(tape, record, dZ.Slice(t * length, length), db.For(t), acc);
        }
    }

    private static void BatchedInputGradient<T>(Tape<T> tape, OpRecord<T> record, View<T> dZ, View<T> dX, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (x, w, experts) = (record.A!, record.B!, record.Groups);
        int batch = record.Output.Rows / experts, outputs = w.Rows / experts, inputs = x.Cols;
        if (x.Rows == experts * batch)                        // dXₑ = dZₑ·Wₑ: [batch × in] = [batch × out]·[out × in]
            tape.Backend.BatchedGemm(false, false, batch, inputs, outputs, T.One, dZ, batch * outputs, w.Data, outputs * inputs,
                accumulate ? T.One : T.Zero, dX, batch * inputs, experts);
        else                                                  // one input read by every expert: dX = Σₑ dZₑ·Wₑ
            for (int e = 0; e < experts; e++)
                tape.Backend.Gemm(false, false, batch, inputs, outputs, T.One, dZ.Slice(e * batch * outputs, batch * outputs),
                    w.Data.Slice(e * outputs * inputs, outputs * inputs), accumulate || e > 0 ? T.One : T.Zero, dX);
    }

    private static void BatchedWeightGradient<T>(Tape<T> tape, OpRecord<T> record, View<T> dZ, View<T> dW, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var (x, w, experts) = (record.A!, record.B!, record.Groups);
        int batch = record.Output.Rows / experts, outputs = w.Rows / experts, inputs = x.Cols;
        bool shared = x.Rows != experts * batch;              // dWₑ = dZₑᵀ·Xₑ: [out × in] = [batch × out]ᵀ·[batch × in]
        tape.Backend.BatchedGemm(true, false, outputs, inputs, batch, T.One, dZ, batch * outputs, x.Data, shared ? 0 : batch * inputs,
            accumulate ? T.One : T.Zero, dW, outputs * inputs, experts);
    }

    private static void BatchedBiasGradient<T>(Tape<T> tape, OpRecord<T> record, View<T> dZ, View<T> db, bool accumulate) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int experts = record.Groups, batch = record.Output.Rows / experts, outputs = record.Output.Cols;
        if (record.Saved.IsEmpty)                             // a row of ones, once per forward: dbₑ = 1ᵀ·dZₑ
        {
            record.Saved = tape.Arena.Take(batch);
            tape.Backend.Fill(record.Saved, T.One);
        }
        tape.Backend.BatchedGemm(false, false, 1, outputs, batch, T.One, record.Saved, 0, dZ, batch * outputs,
            accumulate ? T.One : T.Zero, db, outputs, experts);
    }

    /// <summary>Row-wise softmax (max-shifted): a gate's distribution over the experts, <c>g = softmax(x)</c> per row.</summary>
    public static Tensor<T> Softmax<T>(this Tape<T> tape, Tensor<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        var y = tape.NewActivation(x.Rows, x.Cols, x.RequiresGrad, "softmax");
        tape.Backend.SoftmaxRows(x.Data, x.Rows, x.Cols, y.Data);
        if (y.RequiresGrad) tape.Record(OpKind.Softmax, y).A = x;
        return y;
    }

    /// <summary>dx = y ⊙ (dy − ⟨dy, y⟩) per row (the softmax's Jacobian diag(y) − y·yᵀ applied to dy).</summary>
    internal static void SoftmaxBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        var dX = tape.GradOf(record.A!, out bool accumulate);
        tape.Backend.SoftmaxRowsBackward(y.Data, y.Grad, y.Rows, y.Cols, dX, accumulate);
    }

    /// <summary><see cref="SoftmaxBackward{T}"/> for each task's block of the stacked upstream gradient.</summary>
    internal static void SoftmaxBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        var dX = tape.StackedGradOf(record.A!, out bool accumulate);
        for (int t = 0; t < tape.StackedTasks; t++)
            tape.Backend.SoftmaxRowsBackward(y.Data, y.StackedGrad.Slice(t * y.Length, y.Length), y.Rows, y.Cols, dX.For(t), accumulate);
    }

    /// <summary>
    /// The gated mixture <c>y[b] = Σₑ g[b, e]·x[e, b]</c>: <paramref name="experts"/> is expert-major [E·batch × width]
    /// (a <see cref="BatchedLinear{T}"/> output), <paramref name="gates"/> is [batch × E] (a softmax), y is [batch × width].
    /// </summary>
    public static Tensor<T> Mixture<T>(this Tape<T> tape, Tensor<T> experts, Tensor<T> gates) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(experts);
        ArgumentNullException.ThrowIfNull(gates);
        int count = gates.Cols, batch = gates.Rows;
        if (experts.Rows != count * batch)
            throw new ArgumentException($"Mixture: {experts} must have {count}·{batch} rows for the gates {gates} ({count} experts, batch {batch}).", nameof(experts));
        var y = tape.NewActivation(batch, experts.Cols, experts.RequiresGrad || gates.RequiresGrad, "mixture");
        tape.Backend.Mixture(experts.Data, gates.Data, count, batch, experts.Cols, y.Data);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.Mixture, y);
            record.A = experts;
            record.B = gates;
            record.Groups = count;
        }
        return y;
    }

    /// <summary>dx[e, b] = g[b, e]·dy[b]; dg[b, e] = ⟨dy[b], x[e, b]⟩.</summary>
    internal static void MixtureBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        var (x, g) = (record.A!, record.B!);
        int experts = record.Groups, batch = y.Rows, width = y.Cols;
        if (Tape<T>.Wants(x)) { var dX = tape.GradOf(x, out bool acc); tape.Backend.MixtureBackwardExperts(g.Data, y.Grad, experts, batch, width, dX, acc); }
        if (Tape<T>.Wants(g)) { var dG = tape.GradOf(g, out bool acc); tape.Backend.MixtureBackwardGates(x.Data, y.Grad, experts, batch, width, dG, acc); }
    }

    /// <summary><see cref="MixtureBackward{T}"/> for each task's block of the stacked upstream gradient.</summary>
    internal static void MixtureBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        var (x, g) = (record.A!, record.B!);
        int experts = record.Groups, batch = y.Rows, width = y.Cols, length = y.Length;
        if (Tape<T>.Wants(x))
        {
            var dX = tape.StackedGradOf(x, out bool acc);
            for (int t = 0; t < tape.StackedTasks; t++)
                tape.Backend.MixtureBackwardExperts(g.Data, y.StackedGrad.Slice(t * length, length), experts, batch, width, dX.For(t), acc);
        }
        if (Tape<T>.Wants(g))
        {
            var dG = tape.StackedGradOf(g, out bool acc);
            for (int t = 0; t < tape.StackedTasks; t++)
                tape.Backend.MixtureBackwardGates(x.Data, y.StackedGrad.Slice(t * length, length), experts, batch, width, dG.For(t), acc);
        }
    }

    /// <summary>
    /// Rows stacked: <c>y = [x₀; x₁; …]</c> (equal widths). Concatenating expert-major outputs gives the expert-major
    /// output of the union of the experts (CGC/PLE: a task's gate mixes its own experts and the shared ones).
    /// </summary>
    public static Tensor<T> ConcatRows<T>(this Tape<T> tape, params ReadOnlySpan<Tensor<T>> parts) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Positive(parts.Length, nameof(parts));
        int rows = 0, cols = parts[0].Cols;
        bool requiresGrad = false;
        foreach (var p in parts)
        {
            ArgumentNullException.ThrowIfNull(p, nameof(parts));
            if (p.Cols != cols) throw new ArgumentException($"ConcatRows: {p} has {p.Cols} columns but {parts[0]} has {cols}.", nameof(parts));
            rows += p.Rows;
            requiresGrad |= p.RequiresGrad;
        }
        var y = tape.NewActivation(rows, cols, requiresGrad, "concat");
        int at = 0;
        foreach (var p in parts) { tape.Backend.Copy(p.Data, y.Data.Slice(at, p.Length)); at += p.Length; }
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.ConcatRows, y);
            foreach (var p in parts) record.Inputs.Add(p);
        }
        return y;
    }

    /// <summary>dxᵢ = the rows of dy that xᵢ filled.</summary>
    internal static void ConcatRowsBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int at = 0;
        foreach (var p in record.Inputs)
        {
            if (Tape<T>.Wants(p)) PassThrough(tape, record.Output.Grad.Slice(at, p.Length), p, T.One);
            at += p.Length;
        }
    }

    /// <summary><see cref="ConcatRowsBackward{T}"/> for each task's block of the stacked upstream gradient.</summary>
    internal static void ConcatRowsBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        int at = 0;
        foreach (var p in record.Inputs)
        {
            if (Tape<T>.Wants(p))
            {
                var dX = tape.StackedGradOf(p, out bool accumulate);
                for (int t = 0; t < tape.StackedTasks; t++)
                {
                    var dy = y.StackedGrad.Slice(t * y.Length + at, p.Length);
                    if (accumulate) tape.Backend.Axpy(T.One, dy, dX.For(t));
                    else tape.Backend.Copy(dy, dX.For(t));
                }
            }
            at += p.Length;
        }
    }
}
