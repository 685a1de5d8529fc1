using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Fill, copy and the BLAS-1 style updates as implicitly grouped ILGPU kernels (one thread per
/// element). One kernel serves all the linear updates, the operation being a uniform argument.
/// ScaleByScalar reads its scalar from device memory inside the kernel, so an upstream loss
/// gradient or a task weight never travels to the host.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, float, int>? _linear;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int>? _scaleByScalar;

    private enum LinearOp { Fill, Scale, MultiplyScalarAdd, Add, Multiply, MultiplyAdd }

    /// <inheritdoc/>
    public override void Fill(View<float> x, float value)
    {
        Check.Owned(this, x, nameof(x));
        Linear(LinearOp.Fill, x, x, x, value);
    }

    /// <inheritdoc/>
    public override void Copy(View<float> source, View<float> destination)
    {
        Check.Owned(this, source, nameof(source));
        Check.Owned(this, destination, nameof(destination));
        Check.SameLength(source, nameof(source), destination, nameof(destination));
        // A device memcpy of overlapping windows is undefined (the CPU path memmoves); refuse it.
        KernelChecks.NoPartialOverlap(source, nameof(source), destination, nameof(destination));
        if (source.Length == 0 || source == destination) return;
        source.Ilgpu().CopyTo(Stream, destination.Ilgpu());
    }

    /// <inheritdoc/>
    public override void Scale(View<float> x, float alpha)
    {
        Check.Owned(this, x, nameof(x));
        Linear(LinearOp.Scale, x, x, x, alpha);
    }

    /// <inheritdoc/>
    public override void Axpy(float alpha, View<float> x, View<float> y)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        Linear(LinearOp.MultiplyScalarAdd, x, x, y, alpha);
    }

    /// <inheritdoc/>
    public override void Add(View<float> a, View<float> b, View<float> result)
    {
        KernelChecks.Binary(this, a, nameof(a), b, nameof(b), result, nameof(result));
        Linear(LinearOp.Add, a, b, result, 0);
    }

    /// <inheritdoc/>
    public override void Multiply(View<float> a, View<float> b, View<float> result, bool accumulate)
    {
        KernelChecks.Binary(this, a, nameof(a), b, nameof(b), result, nameof(result));
        Linear(accumulate ? LinearOp.MultiplyAdd : LinearOp.Multiply, a, b, result, 0);
    }

    /// <inheritdoc/>
    public override void ScaleByScalar(View<float> x, View<float> scalar, View<float> y, bool accumulate)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        KernelChecks.Scalar(this, scalar, nameof(scalar));
        if (x.Length == 0) return;
        _scaleByScalar ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int>(ScaleByScalarKernel);
        _scaleByScalar(Stream, x.Length, x.Ilgpu(), scalar.Ilgpu(), y.Ilgpu(), accumulate ? 1 : 0);
    }

    private void Linear(LinearOp op, View<float> a, View<float> b, View<float> result, float s)
    {
        if (result.Length == 0) return;
        _linear ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, float, int>(LinearKernel);
        _linear(Stream, result.Length, a.Ilgpu(), b.Ilgpu(), result.Ilgpu(), s, (int)op);
    }

    internal static void LinearKernel(Index1D i, Dense a, Dense b, Dense result, float s, int op)
    {
        result[i] = op switch
        {
            (int)LinearOp.Fill => s,
            (int)LinearOp.Scale => s * a[i],
            (int)LinearOp.MultiplyScalarAdd => result[i] + s * a[i],
            (int)LinearOp.Add => a[i] + b[i],
            (int)LinearOp.Multiply => a[i] * b[i],
            _ => result[i] + a[i] * b[i],                      // MultiplyAdd
        };
    }

    internal static void ScaleByScalarKernel(Index1D i, Dense x, Dense scalar, Dense y, int accumulate)
    {
        float d = scalar[0] * x[i];
        y[i] = accumulate != 0 ? y[i] + d : d;
    }
}
