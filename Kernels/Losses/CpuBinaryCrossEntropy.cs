using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Masked binary cross-entropy with logits on the SIMD CPU path (maths: docs/maths.md §19.3; the element-by-element
/// reference is <see cref="BinaryCrossEntropyReference"/>). Elements go in blocks of <see cref="BceBlock"/>: the labels
/// converted to T, e = e^{−|z|} and log(1 + e) with TensorPrimitives, then one Vector256 pass that writes σ(z), masks the
/// unlabelled lanes (y &lt; 0) and sums max(z, 0) − z·y + log1p(e), where log1p(e) = log(u)·e/(u − 1) with u = 1 + e
/// (exact for the small e a confident logit gives). Block sums in T, added in double; the labelled count is a host loop
/// over the labels (which are checked there anyway).
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <summary>Elements per block of the binary cross-entropy (its temporaries live on the stack).</summary>
    private const int BceBlock = 256;

    /// <inheritdoc/>
    public override unsafe void MaskedBinaryCrossEntropyForward(View<T> logits, View<int> labels, View<T> probabilities, View<T> loss, View<T> count)
    {
        MaskedLossChecks.Classification(this, logits, nameof(logits), labels, logits.Length, 1, count);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, 2);
        int n = 0;
        for (int i = 0; i < y.Length; i++) if (y[i] >= 0) n++;
        var job = new BinaryCrossEntropyJob { Z = logits.Pointer(), Labels = labels.Pointer(), P = probabilities.Pointer() };
        double total = RunChunks(job, logits.Length, costPerItem: 8);
        count.Span()[0] = FromDouble(n);
        loss.Span()[0] = FromDouble(total / Math.Max(n, 1));
    }

    /// <inheritdoc/>
    public override unsafe void MaskedBinaryCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> count, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, probabilities.Length, 1, count);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        MaskedLossChecks.LabelsInRange(labels.Span(), 2);
        // ∂L/∂zᵢ = (σ(zᵢ) − yᵢ)/max(n, 1) for labelled elements, 0 for the others; times the upstream gradient.
        T c = FromDouble(ToDouble(upstream.Span()[0]) / Math.Max(ToDouble(count.Span()[0]), 1));
        var job = new BinaryCrossEntropyGradientJob { P = probabilities.Pointer(), Labels = labels.Pointer(), D = dLogits.Pointer(), C = c, Accumulate = accumulate };
        RunChunks(job, probabilities.Length, costPerItem: 2);
    }

    /// <inheritdoc/>
    public override void CountCorrectBinary(View<T> logits, View<int> labels, View<T> count)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, logits.Length, 1);
        KernelChecks.Scalar(this, count, nameof(count));
        var z = logits.Span();
        var y = labels.Span();
        int correct = 0;
        for (int i = 0; i < z.Length; i++)
            if (y[i] >= 0 && (z[i] > T.Zero ? 1 : 0) == y[i]) correct++;
        count.Span()[0] = FromDouble(correct);
    }

    /// <summary>For elements [start, start + count): pᵢ = σ(zᵢ) written; returns Σ over labelled i of
    /// max(zᵢ, 0) − zᵢyᵢ + log1p(e^{−|zᵢ|}).</summary>
    private unsafe struct BinaryCrossEntropyJob : IChunkJob
    {
        public T* Z, P;
        public int* Labels;

        public readonly double Run(int start, int count)
        {
            Span<T> y = stackalloc T[BceBlock], e = stackalloc T[BceBlock], u = stackalloc T[BceBlock], logU = stackalloc T[BceBlock];
            double total = 0;
            int width = Vector256<T>.Count;
            var zero = Vector256<T>.Zero;
            var one = Vector256.Create(T.One);
            for (int i = start; i < start + count; i += BceBlock)
            {
                int b = Math.Min(BceBlock, start + count - i), j = 0;
                T* z = Z + i, p = P + i;
                var zs = new ReadOnlySpan<T>(z, b);
                TensorPrimitives.ConvertTruncating<int, T>(new ReadOnlySpan<int>(Labels + i, b), y[..b]);
                TensorPrimitives.Abs(zs, e[..b]);
                TensorPrimitives.Negate<T>(e[..b], e[..b]);
                TensorPrimitives.Exp<T>(e[..b], e[..b]);                // e = e^{−|z|} ∈ (0, 1]
                TensorPrimitives.Add(e[..b], T.One, u[..b]);            // u = 1 + e, rounded
                TensorPrimitives.Log<T>(u[..b], logU[..b]);
                var acc = Vector256<T>.Zero;
                fixed (T* yp = y, ep = e, up = u, lp = logU)
                {
                    for (; j + width <= b; j += width)
                    {
                        var zv = Vector256.Load(z + j);
                        var yv = Vector256.Load(yp + j);
                        var ev = Vector256.Load(ep + j);
                        var uv = Vector256.Load(up + j);
                        var log1p = Vector256.ConditionalSelect(Vector256.Equals(uv, one), ev, Vector256.Load(lp + j) * (ev / (uv - one)));
                        var term = Vector256.Max(zv, zero) - zv * yv + log1p;
                        acc += Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(yv, zero), term, zero);
                        (Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(zv, zero), one, ev) / uv).Store(p + j); // σ(z)
                    }
                }
                T block = Vector256.Sum(acc);
                for (; j < b; j++)
                {
                    T zj = z[j], ej = e[j], uj = u[j];
                    T log1p = uj == T.One ? ej : logU[j] * (ej / (uj - T.One));
                    if (y[j] >= T.Zero) block += T.Max(zj, T.Zero) - zj * y[j] + log1p;
                    p[j] = (zj >= T.Zero ? T.One : ej) / uj;
                }
                total += ToDouble(block);
            }
            return total;
        }
    }

    /// <summary>dᵢ (+)= C·(pᵢ − yᵢ) for labelled elements, (+)= 0 for the others.</summary>
    private unsafe struct BinaryCrossEntropyGradientJob : IChunkJob
    {
        public T* P, D;
        public int* Labels;
        public T C;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            Span<T> y = stackalloc T[BceBlock];
            int width = Vector256<T>.Count;
            var c = Vector256.Create(C);
            var zero = Vector256<T>.Zero;
            for (int i = start; i < start + count; i += BceBlock)
            {
                int b = Math.Min(BceBlock, start + count - i), j = 0;
                T* p = P + i, d = D + i;
                TensorPrimitives.ConvertTruncating<int, T>(new ReadOnlySpan<int>(Labels + i, b), y[..b]);
                fixed (T* yp = y)
                {
                    for (; j + width <= b; j += width)
                    {
                        var yv = Vector256.Load(yp + j);
                        var g = Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(yv, zero), c * (Vector256.Load(p + j) - yv), zero);
                        if (Accumulate) g += Vector256.Load(d + j);
                        g.Store(d + j);
                    }
                }
                for (; j < b; j++)
                {
                    T g = y[j] >= T.Zero ? C * (p[j] - y[j]) : T.Zero;
                    d[j] = Accumulate ? d[j] + g : g;
                }
            }
            return 0;
        }
    }
}
