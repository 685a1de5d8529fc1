using System.Numerics.Tensors;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Masked binary cross-entropy of probabilities (PyTorch's <c>BCELoss</c>) on the SIMD CPU path (maths: docs/maths.md
/// §19.7; the element-by-element reference is <see cref="ProbabilityCrossEntropyReference"/>). Elements go in blocks of
/// <see cref="BceBlock"/>: the labels converted to T, log p and log u with u = 1 − p by TensorPrimitives, then one
/// Vector256 pass that forms log1p(−p) = log(u)·(−p)/(u − 1) (exact for small p; −p when u rounds to 1), clamps both logs
/// at −100, masks the unlabelled lanes and sums. Block sums in T, added in double; the labelled count is a host loop over
/// the labels (checked there).
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void MaskedProbabilityCrossEntropyForward(View<T> probabilities, View<int> labels, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, probabilities.Length, 1, count);
        KernelChecks.Scalar(this, loss, nameof(loss));
        var y = labels.Span();
        MaskedLossChecks.LabelsInRange(y, 2);
        if (!rowWeights.IsEmpty) { WeightedProbabilityCrossEntropyForward(probabilities, labels, loss, count, rowWeights, weightSum); return; }
        int n = 0;
        for (int i = 0; i < y.Length; i++) if (y[i] >= 0) n++;
        var job = new ProbabilityCrossEntropyJob { P = probabilities.Pointer(), Labels = labels.Pointer() };
        double total = RunChunks(job, probabilities.Length, costPerItem: 8);
        count.Span()[0] = FromDouble(n);
        loss.Span()[0] = FromDouble(total / Math.Max(n, 1));
    }

    /// <inheritdoc/>
    public override unsafe void MaskedProbabilityCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> count, View<T> upstream, View<T> dProbabilities, bool accumulate,
        View<T> rowWeights = default)
    {
        MaskedLossChecks.Classification(this, probabilities, nameof(probabilities), labels, probabilities.Length, 1, count);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dProbabilities, nameof(dProbabilities));
        MaskedLossChecks.LabelsInRange(labels.Span(), 2);
        if (!rowWeights.IsEmpty)
        {
            // §19.11: dpᵢ = upstream·sᵣ·(pᵢ − yᵢ)/(D·max(pᵢ(1 − pᵢ), 10⁻¹²)) for labelled elements (0 when D = 0); count holds D.
            MaskedLossChecks.RowWeights(this, probabilities, rowWeights);
            double d = ToDouble(count.Span()[0]);
            T cw = FromDouble(d > 0 ? ToDouble(upstream.Span()[0]) / d : 0);
            var weighted = new ProbabilityCrossEntropyGradientJob { P = probabilities.Pointer(), Labels = labels.Pointer(), D = dProbabilities.Pointer(), C = cw,
                Accumulate = accumulate, S = rowWeights.Pointer(), Columns = probabilities.Length / rowWeights.Length };
            RunChunks(weighted, probabilities.Length, costPerItem: 3);
            return;
        }
        T c = FromDouble(ToDouble(upstream.Span()[0]) / Math.Max(ToDouble(count.Span()[0]), 1));
        var job = new ProbabilityCrossEntropyGradientJob { P = probabilities.Pointer(), Labels = labels.Pointer(), D = dProbabilities.Pointer(), C = c, Accumulate = accumulate };
        RunChunks(job, probabilities.Length, costPerItem: 3);
    }

    /// <summary>§19.11: L = Σ sᵣℓᵢ / D over the labelled elements, D = Σ sᵣ (0 when D = 0), n the labelled count; the weighted
    /// terms by the SIMD job below (each lane times its row's weight), D a host loop over the labels.</summary>
    private unsafe void WeightedProbabilityCrossEntropyForward(View<T> probabilities, View<int> labels, View<T> loss, View<T> count, View<T> rowWeights, View<T> weightSum)
    {
        var y = labels.Span();
        MaskedLossChecks.RowWeights(this, probabilities, rowWeights);
        KernelChecks.Scalar(this, weightSum, nameof(weightSum));
        int columns = probabilities.Length / rowWeights.Length, n = 0;
        var s = rowWeights.Span();
        double d = 0;
        for (int i = 0; i < y.Length; i++) if (y[i] >= 0) { n++; d += ToDouble(s[i / columns]); }
        var job = new ProbabilityCrossEntropyJob { P = probabilities.Pointer(), Labels = labels.Pointer(), S = rowWeights.Pointer(), Columns = columns };
        double total = RunChunks(job, probabilities.Length, costPerItem: 8);
        count.Span()[0] = FromDouble(n);
        weightSum.Span()[0] = FromDouble(d);
        loss.Span()[0] = FromDouble(d > 0 ? total / d : 0);
    }

    /// <summary>Returns Σ over labelled i in [start, start + count) of −[yᵢ·max(log pᵢ, −100) + (1 − yᵢ)·max(log1p(−pᵢ), −100)]
    /// (times the row weight sᵣ, element i in row i / <see cref="Columns"/>, when <see cref="S"/> is set; a row of weight 0
    /// adds 0).</summary>
    private unsafe struct ProbabilityCrossEntropyJob : IChunkJob
    {
        public T* P, S;
        public int* Labels;
        public int Columns;

        public readonly double Run(int start, int count)
        {
            Span<T> y = stackalloc T[BceBlock], u = stackalloc T[BceBlock], logP = stackalloc T[BceBlock], logU = stackalloc T[BceBlock];
            double total = 0;
            int width = Vector256<T>.Count;
            T floor = FromDouble(ProbabilityCrossEntropyReference.LogFloor);
            var zero = Vector256<T>.Zero;
            var one = Vector256.Create(T.One);
            var floorV = Vector256.Create(floor);
            for (int i = start; i < start + count; i += BceBlock)
            {
                int b = Math.Min(BceBlock, start + count - i), j = 0;
                T* p = P + i;
                var ps = new ReadOnlySpan<T>(p, b);
                TensorPrimitives.ConvertTruncating<int, T>(new ReadOnlySpan<int>(Labels + i, b), y[..b]);
                TensorPrimitives.Subtract(T.One, ps, u[..b]);             // u = 1 − p, rounded
                TensorPrimitives.Log<T>(ps, logP[..b]);
                TensorPrimitives.Log<T>(u[..b], logU[..b]);
                var acc = Vector256<T>.Zero;
                fixed (T* yp = y, up = u, lp = logP, lu = logU)
                {
                    for (; j + width <= b; j += width)
                    {
                        var pv = Vector256.Load(p + j);
                        var yv = Vector256.Load(yp + j);
                        var uv = Vector256.Load(up + j);
                        var log1m = Vector256.ConditionalSelect(Vector256.Equals(uv, one), -pv, Vector256.Load(lu + j) * (-pv / (uv - one)));
                        var term = -(yv * Vector256.Max(Vector256.Load(lp + j), floorV) + (one - yv) * Vector256.Max(log1m, floorV));
                        var keep = Vector256.GreaterThanOrEqual(yv, zero);
                        if (S is not null)
                        {
                            var sv = RowWeightLanes(S, i + j, Columns);
                            term *= sv;
                            keep &= ~Vector256.Equals(sv, zero);
                        }
                        acc += Vector256.ConditionalSelect(keep, term, zero);
                    }
                }
                T block = Vector256.Sum(acc);
                for (; j < b; j++)
                {
                    if (y[j] < T.Zero) continue;
                    T w = S is null ? T.One : S[(i + j) / Columns];
                    if (w == T.Zero) continue;
                    T log1m = u[j] == T.One ? -p[j] : logU[j] * (-p[j] / (u[j] - T.One));
                    block -= w * (y[j] * T.Max(logP[j], floor) + (T.One - y[j]) * T.Max(log1m, floor));
                }
                total += ToDouble(block);
            }
            return total;
        }
    }

    /// <summary>The weights of elements [first, first + lanes) as lanes: sᵣ of each element's row r = i / columns.</summary>
    private static unsafe Vector256<T> RowWeightLanes(T* s, int first, int columns)
    {
        if (columns == 1) return Vector256.Load(s + first);
        Span<T> lanes = stackalloc T[Vector256<T>.Count];
        for (int l = 0; l < lanes.Length; l++) lanes[l] = s[(first + l) / columns];
        return Vector256.Create<T>(lanes);
    }

    /// <summary>dᵢ (+)= C·(pᵢ − yᵢ)/max(pᵢ(1 − pᵢ), 10⁻¹²) for labelled elements, (+)= 0 for the others (times the row weight
    /// sᵣ when <see cref="S"/> is set; 0 where it is 0).</summary>
    private unsafe struct ProbabilityCrossEntropyGradientJob : IChunkJob
    {
        public T* P, D, S;
        public int* Labels;
        public T C;
        public int Columns;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            Span<T> y = stackalloc T[BceBlock];
            int width = Vector256<T>.Count;
            T eps = FromDouble(ProbabilityCrossEntropyReference.VarianceFloor);
            var c = Vector256.Create(C);
            var epsV = Vector256.Create(eps);
            var one = Vector256.Create(T.One);
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
                        var pv = Vector256.Load(p + j);
                        var yv = Vector256.Load(yp + j);
                        var g = c * (pv - yv) / Vector256.Max(pv * (one - pv), epsV);
                        var keep = Vector256.GreaterThanOrEqual(yv, zero);
                        if (S is not null)
                        {
                            var sv = RowWeightLanes(S, i + j, Columns);
                            g *= sv;
                            keep &= ~Vector256.Equals(sv, zero);
                        }
                        g = Vector256.ConditionalSelect(keep, g, zero);
                        if (Accumulate) g += Vector256.Load(d + j);
                        g.Store(d + j);
                    }
                }
                for (; j < b; j++)
                {
                    T w = S is null ? T.One : S[(i + j) / Columns];
                    T g = y[j] >= T.Zero && w != T.Zero ? w * C * (p[j] - y[j]) / T.Max(p[j] * (T.One - p[j]), eps) : T.Zero;
                    d[j] = Accumulate ? d[j] + g : g;
                }
            }
            return 0;
        }
    }
}
