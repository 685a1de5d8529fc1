using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

public static partial class Ops
{
    /// <summary>PyTorch's default ε of <c>nn.LayerNorm</c>.</summary>
    public const double LayerNormEpsilon = 1e-5;

    /// <summary>
    /// Layer normalization of each row, PyTorch's <c>nn.LayerNorm(cols)</c> (biased variance, ε = 1e-5 by default):
    /// <c>y = γ ⊙ (x − μ)/√(σ² + ε) + β</c> per row, with x [rows × cols] in <paramref name="groups"/> equal consecutive row
    /// blocks (the experts of a batched layer, the columns of cross-stitch), block g scaled by row g of γ, β [groups × cols].
    /// The forward saves μ and 1/√(σ² + ε) per row for the fused backward. Row-independent: the stacked per-task backward
    /// runs it. Maths: docs/maths.md §21.2.
    /// </summary>
    public static Tensor<T> LayerNorm<T>(this Tape<T> tape, Tensor<T> x, Tensor<T> gamma, Tensor<T> beta, int groups = 1,
        double epsilon = LayerNormEpsilon) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        ArgumentNullException.ThrowIfNull(gamma);
        ArgumentNullException.ThrowIfNull(beta);
        if (gamma.Length != (long)groups * x.Cols || beta.Length != gamma.Length)
            throw new ArgumentException($"LayerNorm: {gamma} and {beta} must hold {groups}·{x.Cols} elements (one row of {x.Cols} per group).", nameof(gamma));
        if (!(epsilon > 0)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "LayerNorm: ε must be positive.");
        bool requiresGrad = x.RequiresGrad || gamma.RequiresGrad || beta.RequiresGrad;
        var y = tape.NewActivation(x.Rows, x.Cols, requiresGrad, "layer_norm");
        var saved = tape.Arena.Take(2 * x.Rows);                       // μ, then rstd
        tape.Backend.LayerNormForward(x.Data, x.Rows, x.Cols, groups, gamma.Data, beta.Data, T.CreateChecked(epsilon), y.Data,
            saved.Slice(0, x.Rows), saved.Slice(x.Rows, x.Rows));
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.LayerNorm, y);
            record.A = x;
            record.B = gamma;
            record.C = beta;
            record.Groups = groups;
            record.Saved = saved;
        }
        return y;
    }

    /// <summary>dx = rstd·(g − mean(g) − x̂·mean(g ⊙ x̂)) with g = dy ⊙ γ; dγ = Σ_rows dy ⊙ x̂, dβ = Σ_rows dy (per group).</summary>
    internal static void LayerNormBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        var scratch = tape.ScratchOf(record, y.Length);
        bool wantsX = Tape<T>.Wants(record.A), wantsGamma = Tape<T>.Wants(record.B), wantsBeta = Tape<T>.Wants(record.C);
        bool accumulateX = false, accumulateGamma = false, accumulateBeta = false;
        var dx = wantsX ? tape.GradOf(record.A!, out accumulateX) : default;
        var dGamma = wantsGamma ? tape.GradOf(record.B!, out accumulateGamma) : default;
        var dBeta = wantsBeta ? tape.GradOf(record.C!, out accumulateBeta) : default;
        LayerNormBackwardInto(tape, record, y.Grad, scratch, dx, accumulateX, dGamma, accumulateGamma, dBeta, accumulateBeta);
    }

    /// <summary><see cref="LayerNormBackward{T}"/> for all tasks at once: each task's block of the stacked dY, into its dX
    /// block and its row of the per-task γ, β gradients (the forward statistics are every task's).</summary>
    internal static void LayerNormBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var y = record.Output;
        int tasks = tape.StackedTasks, length = y.Length;
        var scratch = tape.ScratchOf(record, length);
        bool wantsX = Tape<T>.Wants(record.A), wantsGamma = Tape<T>.Wants(record.B), wantsBeta = Tape<T>.Wants(record.C);
        bool accumulateX = false, accumulateGamma = false, accumulateBeta = false;
        var dX = wantsX ? tape.StackedGradOf(record.A!, out accumulateX) : default;
        var dGamma = wantsGamma ? tape.StackedGradOf(record.B!, out accumulateGamma) : default;
        var dBeta = wantsBeta ? tape.StackedGradOf(record.C!, out accumulateBeta) : default;
        for (int t = 0; t < tasks; t++)
            LayerNormBackwardInto(tape, record, y.StackedGrad.Slice(t * length, length), scratch,
                wantsX ? dX.For(t) : default, accumulateX, wantsGamma ? dGamma.For(t) : default, accumulateGamma,
                wantsBeta ? dBeta.For(t) : default, accumulateBeta);
    }

    private static void LayerNormBackwardInto<T>(Tape<T> tape, OpRecord<T> record, View<T> dy, View<T> scratch, View<T> dx, bool accumulateX,
        View<T> dGamma, bool accumulateGamma, View<T> dBeta, bool accumulateBeta) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = record.A!;
        int rows = x.Rows, cols = x.Cols;
        var mean = record.Saved.Slice(0, rows);
        var rstd = record.Saved.Slice(rows, rows);
        if (!dx.IsEmpty)
            tape.Backend.LayerNormBackwardInput(x.Data, mean, rstd, record.B!.Data, dy, rows, cols, record.Groups, scratch, dx, accumulateX);
        if (!dGamma.IsEmpty || !dBeta.IsEmpty)
            tape.Backend.LayerNormBackwardParameters(x.Data, mean, rstd, dy, rows, cols, record.Groups, scratch, dGamma, accumulateGamma, dBeta, accumulateBeta);
    }
}
