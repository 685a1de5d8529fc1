using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Fill, copy and the BLAS-1 style updates as streaming ILGPU kernels (<see cref="StreamLayout"/>: 128-bit loads and
/// stores in a grid-stride loop, scalar head and tail). One kernel serves all the linear updates, the operation being a uniform argument.
/// ScaleByScalar reads its scalar from device memory inside the kernel, so an upstream loss
/// gradient or a task weight never travels to the host.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, Dense, float, int, StreamLayout>? _linear;
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, Dense, int, StreamLayout>? _scaleByScalar;

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
        source.Ilgpu().CopyTo(Launched(), destination.Ilgpu());
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
        var layout = StreamLayout.Of(x.Length, x.Offset, y.Offset);
        _scaleByScalar ??= Accelerator.LoadKernel<Dense, Dense, Dense, int, StreamLayout>(ScaleByScalarKernel);
        _scaleByScalar(Launched(), StreamConfig(layout), x.Ilgpu(), scalar.Ilgpu(), y.Ilgpu(), accumulate ? 1 : 0, layout);
    }

    private void Linear(LinearOp op, View<float> a, View<float> b, View<float> result, float s)
    {
        if (result.Length == 0) return;
        var layout = StreamLayout.Of(result.Length, a.Offset, b.Offset, result.Offset);
        _linear ??= Accelerator.LoadKernel<Dense, Dense, Dense, float, int, StreamLayout>(LinearKernel);
        _linear(Launched(), StreamConfig(layout), a.Ilgpu(), b.Ilgpu(), result.Ilgpu(), s, (int)op, layout);
    }

    /// <summary>The linear updates, streamed (<see cref="StreamLayout"/>: float4 grid-stride loop, scalar head and tail).
    /// Views that an operation does not read are not loaded (the operation is uniform across the grid).</summary>
    internal static void LinearKernel(Dense a, Dense b, Dense result, float s, int op, StreamLayout layout)
    {
        var a4 = Vectors(a, layout);
        var b4 = Vectors(b, layout);
        var r4 = Vectors(result, layout);
        bool readsA = op != (int)LinearOp.Fill, readsB = op >= (int)LinearOp.Add && op != (int)LinearOp.Fill;
        bool readsResult = op == (int)LinearOp.MultiplyScalarAdd || op == (int)LinearOp.MultiplyAdd;
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 av = readsA ? a4[j] : default, bv = readsB ? b4[j] : default, rv = readsResult ? r4[j] : default;
            r4[j] = new Vec4(LinearLane(op, av.X, bv.X, rv.X, s), LinearLane(op, av.Y, bv.Y, rv.Y, s),
                             LinearLane(op, av.Z, bv.Z, rv.Z, s), LinearLane(op, av.W, bv.W, rv.W, s));
        }
        int scalars = ScalarCount(layout);
        for (int t = GlobalThread; t < scalars; t += stride)
        {
            int i = ScalarIndex(layout, t);
            result[i] = LinearLane(op, readsA ? a[i] : 0f, readsB ? b[i] : 0f, readsResult ? result[i] : 0f, s);
        }
    }

    private static float LinearLane(int op, float a, float b, float r, float s) => op switch
    {
        (int)LinearOp.Fill => s,
        (int)LinearOp.Scale => s * a,
        (int)LinearOp.MultiplyScalarAdd => r + s * a,
        (int)LinearOp.Add => a + b,
        (int)LinearOp.Multiply => a * b,
        _ => r + a * b,                      // MultiplyAdd
    };

    /// <summary>y (+)= scalar[0]·x, the scalar read on the device, streamed.</summary>
    internal static void ScaleByScalarKernel(Dense x, Dense scalar, Dense y, int accumulate, StreamLayout layout)
    {
        float s = scalar[0];
        var x4 = Vectors(x, layout);
        var y4 = Vectors(y, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 xv = x4[j];
            var d = new Vec4(s * xv.X, s * xv.Y, s * xv.Z, s * xv.W);
            if (accumulate != 0)
            {
                Vec4 yv = y4[j];
                d = new Vec4(yv.X + d.X, yv.Y + d.Y, yv.Z + d.Z, yv.W + d.W);
            }
            y4[j] = d;
        }
        int scalars = ScalarCount(layout);
        for (int t = GlobalThread; t < scalars; t += stride)
        {
            int i = ScalarIndex(layout, t);
            float d = s * x[i];
            y[i] = accumulate != 0 ? y[i] + d : d;
        }
    }
}
