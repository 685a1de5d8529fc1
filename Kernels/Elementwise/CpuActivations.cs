using System.Numerics;
using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Pointwise non-linearities and their derivatives on the SIMD CPU path
/// (maths: docs/maths.md §5, "Activations").
/// Forward passes are TensorPrimitives calls; backward passes are Vector256 loops, because
/// TensorPrimitives has no "gradient times derivative" primitive.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void ActivationForward(Activation activation, View<T> x, View<T> y)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        KernelChecks.Activation(activation);
        if (x.Length == 0) return;
        RunChunks(new ForwardJob { Activation = activation, X = x.Pointer(), Y = y.Pointer() }, x.Length);
    }

    /// <inheritdoc/>
    public override unsafe void ActivationBackwardFromOutput(Activation activation, View<T> output, View<T> dy, View<T> dx, bool accumulate)
    {
        KernelChecks.ActivationBackward(this, activation, output, nameof(output), dy, dx);
        if (output.Length == 0) return;
        RunChunks(new BackwardJob { Activation = activation, FromInput = false, Saved = output.Pointer(), Dy = dy.Pointer(), Dx = dx.Pointer(), Accumulate = accumulate }, output.Length);
    }

    /// <inheritdoc/>
    public override unsafe void ActivationBackwardFromInput(Activation activation, View<T> input, View<T> dy, View<T> dx, bool accumulate)
    {
        KernelChecks.ActivationBackward(this, activation, input, nameof(input), dy, dx);
        if (input.Length == 0) return;
        RunChunks(new BackwardJob { Activation = activation, FromInput = true, Saved = input.Pointer(), Dy = dy.Pointer(), Dx = dx.Pointer(), Accumulate = accumulate }, input.Length);
    }

    /// <summary>y = f(x) on one chunk.</summary>
    private unsafe struct ForwardJob : IChunkJob
    {
        public Activation Activation;
        public T* X, Y;

        public readonly double Run(int start, int count)
        {
            var x = new ReadOnlySpan<T>(X + start, count);
            var y = new Span<T>(Y + start, count);
            Forward(Activation, x, y);
            return 0;
        }
    }

    private static void Forward(Activation activation, ReadOnlySpan<T> x, Span<T> y)
    {
        switch (activation)
        {
            case Activation.Relu: TensorPrimitives.Max(x, T.Zero, y); break;       // max(x, 0); NaN stays NaN
            case Activation.Tanh: AccurateTanh.Compute(x, y); break;
            case Activation.Sigmoid: TensorPrimitives.Sigmoid(x, y); break;
            default: x.CopyTo(y); break;                                            // identity
        }
    }

    /// <summary>dx (+)= dy ⊙ f′ on one chunk, with f′ taken from the saved output or the saved input.</summary>
    private unsafe struct BackwardJob : IChunkJob
    {
        /// <summary>Elements of f(x) recomputed at a time (on the stack) for the from-input form.</summary>
        private const int Block = 512;

        public Activation Activation;
        public bool FromInput, Accumulate;
        public T* Saved, Dy, Dx;

        public readonly double Run(int start, int count)
        {
            var saved = new ReadOnlySpan<T>(Saved + start, count);
            var dy = new ReadOnlySpan<T>(Dy + start, count);
            var dx = new Span<T>(Dx + start, count);
            // ReLU and identity have the same derivative formula in x and in y = f(x) (x > 0 ⇔ y > 0);
            // tanh and sigmoid are recomputed block by block, y = f(x), and then use the output form.
            if (!FromInput || Activation is Activation.Relu or Activation.Identity)
            {
                ApplyDerivative(Activation, saved, dy, dx, Accumulate);
                return 0;
            }
            Span<T> output = stackalloc T[Block];
            for (int i = 0; i < count; i += Block)
            {
                int n = Math.Min(Block, count - i);
                var y = output[..n];
                Forward(Activation, saved.Slice(i, n), y);
                ApplyDerivative(Activation, y, dy.Slice(i, n), dx.Slice(i, n), Accumulate);
            }
            return 0;
        }
    }

    private static void ApplyDerivative(Activation activation, ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, bool accumulate)
    {
        switch (activation)
        {
            case Activation.Relu: ApplyDerivative<ReluFromOutput<T>>(y, dy, dx, accumulate); break;
            case Activation.Tanh: ApplyDerivative<TanhFromOutput<T>>(y, dy, dx, accumulate); break;
            case Activation.Sigmoid: ApplyDerivative<SigmoidFromOutput<T>>(y, dy, dx, accumulate); break;
            default: ApplyDerivative<IdentityFromOutput<T>>(y, dy, dx, accumulate); break;
        }
    }

    /// <summary>dx (+)= TDerivative.Times(y, dy) with one Vector256 per step and a scalar tail.</summary>
    private static void ApplyDerivative<TDerivative>(ReadOnlySpan<T> y, ReadOnlySpan<T> dy, Span<T> dx, bool accumulate)
        where TDerivative : IDerivativeFromOutput<T>
    {
        ref T ry = ref MemoryMarshal.GetReference(y);
        ref T rdy = ref MemoryMarshal.GetReference(dy);
        ref T rdx = ref MemoryMarshal.GetReference(dx);
        int n = y.Length, i = 0;
        if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
        {
            int width = Vector256<T>.Count;
            for (; i <= n - width; i += width)
            {
                var d = TDerivative.Times(Vector256.LoadUnsafe(ref ry, (nuint)i), Vector256.LoadUnsafe(ref rdy, (nuint)i));
                if (accumulate) d += Vector256.LoadUnsafe(ref rdx, (nuint)i);
                d.StoreUnsafe(ref rdx, (nuint)i);
            }
        }
        for (; i < n; i++)
        {
            T d = TDerivative.Times(Unsafe.Add(ref ry, i), Unsafe.Add(ref rdy, i));
            Unsafe.Add(ref rdx, i) = accumulate ? Unsafe.Add(ref rdx, i) + d : d;
        }
    }
}

/// <summary>
/// tanh with small relative error everywhere. TensorPrimitives.Tanh is accurate only in absolute
/// terms near 0 (float: tanh(0) = −6e-8, tanh(1e-3) off by 3e-5 relative; double: tanh(1e-20) = 0),
/// so for |x| below a threshold the kernel uses the odd Taylor series
/// tanh x = x − x³/3 + 2x⁵/15 − 17x⁷/315 + … (9 terms, Horner in x²), whose truncation error there
/// is below one ulp; above it TensorPrimitives' result is already within an ulp or two.
/// </summary>
internal static class AccurateTanh
{
    /// <summary>Taylor coefficients of tanh: 2^{2n}(2^{2n}−1)B_{2n}/(2n)! for x^{2n−1}, n = 1…9.</summary>
    internal static readonly double[] Coefficients =
    [
        1.0, -1.0 / 3, 2.0 / 15, -17.0 / 315, 62.0 / 2835, -1382.0 / 155925,
        21844.0 / 6081075, -929569.0 / 638512875, 6404582.0 / 10854718875,
    ];

    /// <summary>Below this |x| the series is used: the next term, 0.00024·x¹⁹, is then under
    /// 2⁻⁵³ relative for double (0.125) and under 2⁻²⁴ relative for float (0.55).</summary>
    internal static double Threshold<T>() => typeof(T) == typeof(float) ? 0.55 : 0.125;

    private const int Block = 256;

    public static void Compute<T>(ReadOnlySpan<T> x, Span<T> y) where T : unmanaged, IFloatingPointIeee754<T>
    {
        Span<T> large = stackalloc T[Block];
        T threshold = T.CreateTruncating(Threshold<T>());
        for (int start = 0; start < x.Length; start += Block)
        {
            int n = Math.Min(Block, x.Length - start);
            var xb = x.Slice(start, n);
            var yb = y.Slice(start, n);
            var tb = large[..n];
            TensorPrimitives.Tanh(xb, tb); // into scratch: x and y may be the same memory
            ref T rx = ref MemoryMarshal.GetReference(xb);
            ref T rt = ref MemoryMarshal.GetReference(tb);
            ref T ry = ref MemoryMarshal.GetReference(yb);
            int i = 0;
            if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            {
                var limit = Vector256.Create(threshold);
                for (; i <= n - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var vx = Vector256.LoadUnsafe(ref rx, (nuint)i);
                    var small = Vector256.LessThan(Vector256.Abs(vx), limit);
                    var v = Vector256.LoadUnsafe(ref rt, (nuint)i);
                    if (small != Vector256<T>.Zero) v = Vector256.ConditionalSelect(small, Series(vx), v);
                    v.StoreUnsafe(ref ry, (nuint)i);
                }
            }
            for (; i < n; i++)
            {
                T xi = Unsafe.Add(ref rx, i);
                Unsafe.Add(ref ry, i) = T.Abs(xi) < threshold ? Series(xi) : Unsafe.Add(ref rt, i);
            }
        }
    }

    private static T Series<T>(T x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        T x2 = x * x;
        T p = TanhSeries<T>.C17;
        p = p * x2 + TanhSeries<T>.C15;
        p = p * x2 + TanhSeries<T>.C13;
        p = p * x2 + TanhSeries<T>.C11;
        p = p * x2 + TanhSeries<T>.C9;
        p = p * x2 + TanhSeries<T>.C7;
        p = p * x2 + TanhSeries<T>.C5;
        p = p * x2 + TanhSeries<T>.C3;
        p = p * x2 + T.One;
        return x * p;
    }

    private static Vector256<T> Series<T>(Vector256<T> x) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x2 = x * x;
        var p = Vector256.Create(TanhSeries<T>.C17);
        p = p * x2 + Vector256.Create(TanhSeries<T>.C15);
        p = p * x2 + Vector256.Create(TanhSeries<T>.C13);
        p = p * x2 + Vector256.Create(TanhSeries<T>.C11);
        p = p * x2 + Vector256.Create(TanhSeries<T>.C9);
        p = p * x2 + Vector256.Create(TanhSeries<T>.C7);
        p = p * x2 + Vector256.Create(TanhSeries<T>.C5);
        p = p * x2 + Vector256.Create(TanhSeries<T>.C3);
        p = p * x2 + Vector256<T>.One;
        return x * p;
    }
}

/// <summary>The tanh Taylor coefficients in T (static readonly, so the JIT folds them into constants).</summary>
internal static class TanhSeries<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static readonly T C3 = T.CreateTruncating(AccurateTanh.Coefficients[1]);
    public static readonly T C5 = T.CreateTruncating(AccurateTanh.Coefficients[2]);
    public static readonly T C7 = T.CreateTruncating(AccurateTanh.Coefficients[3]);
    public static readonly T C9 = T.CreateTruncating(AccurateTanh.Coefficients[4]);
    public static readonly T C11 = T.CreateTruncating(AccurateTanh.Coefficients[5]);
    public static readonly T C13 = T.CreateTruncating(AccurateTanh.Coefficients[6]);
    public static readonly T C15 = T.CreateTruncating(AccurateTanh.Coefficients[7]);
    public static readonly T C17 = T.CreateTruncating(AccurateTanh.Coefficients[8]);
}

/// <summary>g·f′ expressed through the output y = f(x) (or, for ReLU and identity, equally through x).</summary>
internal interface IDerivativeFromOutput<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    static abstract T Times(T y, T g);
    static abstract Vector256<T> Times(Vector256<T> y, Vector256<T> g);
}

/// <summary>ReLU: f′ = 1[y &gt; 0]. A select, not a product, so that an infinite g where y = 0 gives 0, not NaN.</summary>
internal readonly struct ReluFromOutput<T> : IDerivativeFromOutput<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Times(T y, T g) => y > T.Zero ? g : T.Zero;
    public static Vector256<T> Times(Vector256<T> y, Vector256<T> g) =>
        Vector256.ConditionalSelect(Vector256.GreaterThan(y, Vector256<T>.Zero), g, Vector256<T>.Zero);
}

/// <summary>tanh: f′ = 1 − y².</summary>
internal readonly struct TanhFromOutput<T> : IDerivativeFromOutput<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Times(T y, T g) => g * (T.One - y * y);
    public static Vector256<T> Times(Vector256<T> y, Vector256<T> g) => g * (Vector256<T>.One - y * y);
}

/// <summary>sigmoid: f′ = y(1 − y).</summary>
internal readonly struct SigmoidFromOutput<T> : IDerivativeFromOutput<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Times(T y, T g) => g * y * (T.One - y);
    public static Vector256<T> Times(Vector256<T> y, Vector256<T> g) => g * y * (Vector256<T>.One - y);
}

/// <summary>identity: f′ = 1.</summary>
internal readonly struct IdentityFromOutput<T> : IDerivativeFromOutput<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    public static T Times(T y, T g) => g;
    public static Vector256<T> Times(Vector256<T> y, Vector256<T> g) => g;
}
