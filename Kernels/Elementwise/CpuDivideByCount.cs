using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// y[i, ·] = x[i, ·] / cᵢ (0 where cᵢ = 0), one row per count: the division by the global labelled counts that
/// follows the data-parallel all-reduce (maths §20). Reference: for i, for j: y[i·w + j] = c[i] == 0 ? 0 : x[i·w + j] / c[i].
/// One exactly rounded division per element (TensorPrimitives.Divide), rows in sequence: a few rows of any width.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override void DivideByCount(View<T> x, View<T> counts, View<T> y)
    {
        KernelChecks.DivideByCount(this, x, counts, y);
        if (x.Length == 0) return;
        int rows = counts.Length, width = x.Length / rows;
        var c = counts.Span();
        for (int i = 0; i < rows; i++)
        {
            var source = x.Span().Slice(i * width, width);
            var target = y.Span().Slice(i * width, width);
            if (c[i] == T.Zero) target.Clear();
            else TensorPrimitives.Divide(source, c[i], target);
        }
    }
}
