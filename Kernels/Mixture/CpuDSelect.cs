using System.Numerics.Tensors;
using System.Runtime.CompilerServices;
using System.Runtime.InteropServices;
using System.Runtime.Intrinsics;

namespace Engine.Kernels.Cpu;

/// <summary>
/// The DSelect-k gate kernels on the SIMD CPU path (maths: docs/maths.md §17.5; readable reference:
/// <see cref="DSelectReference"/>). The smooth-step and the entropy terms are Vector256 loops with a scalar tail (same
/// formula, same operation order); a selector's 2^m weights are built as the Kronecker product ⊗ⱼ [1 − sⱼ, sⱼ], one
/// <see cref="TensorPrimitives.Multiply{T}(ReadOnlySpan{T}, T, Span{T})"/> pair per bit (bit m−1 first, each new bit the
/// most significant so far), and the backward is, per bit j, the same product with factor j replaced by [−1, 1], dotted
/// with dr. Rows run over chunks (<see cref="RunChunks{TJob}"/>).
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void SmoothStep(View<T> x, T gamma, View<T> y)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        DSelectChecks.Gamma(gamma);
        if (x.Length == 0) return;
        RunChunks(new SmoothStepJob { X = x.Pointer(), Y = y.Pointer(), Gamma = gamma }, x.Length);
    }

    /// <inheritdoc/>
    public override unsafe void SmoothStepBackward(View<T> x, View<T> dy, T gamma, View<T> dx, bool accumulate)
    {
        DSelectChecks.SmoothStepBackward(this, x, dy, dx);
        DSelectChecks.Gamma(gamma);
        if (x.Length == 0) return;
        RunChunks(new SmoothStepJob { X = x.Pointer(), Dy = dy.Pointer(), Y = dx.Pointer(), Gamma = gamma, Backward = true, Accumulate = accumulate }, x.Length);
    }

    /// <inheritdoc/>
    public override unsafe void Selectors(View<T> s, int rows, int selectors, int bits, View<T> r)
    {
        DSelectChecks.Selectors(this, s, nameof(s), rows, selectors, bits, r, nameof(r));
        RunChunks(new SelectorsJob { S = s.Pointer(), R = r.Pointer(), Rows = rows, Selectors = selectors, Bits = bits }, rows * selectors, bits << bits);
    }

    /// <inheritdoc/>
    public override unsafe void SelectorsBackward(View<T> s, View<T> dr, int rows, int selectors, int bits, View<T> ds, bool accumulate)
    {
        DSelectChecks.SelectorsBackward(this, s, dr, rows, selectors, bits, ds);
        RunChunks(new SelectorsJob { S = s.Pointer(), R = dr.Pointer(), Ds = ds.Pointer(), Rows = rows, Selectors = selectors, Bits = bits, Backward = true, Accumulate = accumulate },
            rows * selectors, bits * bits << bits);
    }

    /// <inheritdoc/>
    public override unsafe void EntropyTerms(View<T> x, T scale, View<T> terms, View<T> derivative)
    {
        DSelectChecks.EntropyTerms(this, x, terms, derivative);
        if (x.Length == 0) return;
        RunChunks(new EntropyJob { X = x.Pointer(), Terms = terms.Pointer(), Derivative = derivative.Pointer(), Scale = scale }, x.Length, 4);
    }

    /// <summary>Forward y = S(x), or backward dx (+)= dy·S′(x) (Y = dx), on one chunk.</summary>
    private unsafe struct SmoothStepJob : IChunkJob
    {
        public T* X, Y, Dy;
        public T Gamma;
        public bool Backward, Accumulate;

        public readonly double Run(int start, int count)
        {
            T half = Gamma / T.CreateTruncating(2), a3 = T.CreateTruncating(-2) / (Gamma * Gamma * Gamma);
            T a1 = T.CreateTruncating(3) / (T.CreateTruncating(2) * Gamma), a0 = T.One / T.CreateTruncating(2);
            ref T rx = ref Unsafe.AsRef<T>(X + start);
            ref T ry = ref Unsafe.AsRef<T>(Y + start);
            ref T rdy = ref Backward ? ref Unsafe.AsRef<T>(Dy + start) : ref rx;
            int i = 0;
            if (Vector256.IsHardwareAccelerated && Vector256<T>.IsSupported)
            {
                var lo = Vector256.Create(-half);
                var hi = Vector256.Create(half);
                var va3 = Vector256.Create(a3);
                var va1 = Vector256.Create(a1);
                var va0 = Vector256.Create(a0);
                var three = Vector256.Create(T.CreateTruncating(3));
                for (; i <= count - Vector256<T>.Count; i += Vector256<T>.Count)
                {
                    var t = Vector256.LoadUnsafe(ref rx, (nuint)i);
                    Vector256<T> v;
                    if (!Backward)   // 0 below the band, 1 above it, t·(a₃t² + a₁) + a₀ inside
                        v = Vector256.ConditionalSelect(Vector256.LessThanOrEqual(t, lo), Vector256<T>.Zero,
                            Vector256.ConditionalSelect(Vector256.GreaterThanOrEqual(t, hi), Vector256<T>.One, t * (va3 * t * t + va1) + va0));
                    else             // S′ = 3a₃t² + a₁ strictly inside the band, 0 elsewhere
                    {
                        var inside = Vector256.GreaterThan(t, lo) & Vector256.LessThan(t, hi);
                        v = Vector256.ConditionalSelect(inside, three * va3 * t * t + va1, Vector256<T>.Zero) * Vector256.LoadUnsafe(ref rdy, (nuint)i);
                        if (Accumulate) v += Vector256.LoadUnsafe(ref ry, (nuint)i);
                    }
                    v.StoreUnsafe(ref ry, (nuint)i);
                }
            }
            for (; i < count; i++)
            {
                T t = Unsafe.Add(ref rx, i);
                if (!Backward)
                    Unsafe.Add(ref ry, i) = t <= -half ? T.Zero : t >= half ? T.One : t * (a3 * t * t + a1) + a0;
                else
                {
                    T d = (t > -half && t < half ? T.CreateTruncating(3) * a3 * t * t + a1 : T.Zero) * Unsafe.Add(ref rdy, i);
                    Unsafe.Add(ref ry, i) = Accumulate ? Unsafe.Add(ref ry, i) + d : d;
                }
            }
            return 0;
        }
    }

    /// <summary>Items q = b·k + i of [start, start + count): selector i of row b. Forward: r[i, b] = ⊗ⱼ [1 − sⱼ, sⱼ] (R = r).
    /// Backward (R = dr): ds[b, i, j] (+)= ⟨dr[i, b], the product with factor j replaced by [−1, 1]⟩.</summary>
    private unsafe struct SelectorsJob : IChunkJob
    {
        public T* S, R, Ds;
        public int Rows, Selectors, Bits;
        public bool Backward, Accumulate;

        public readonly double Run(int start, int count)
        {
            int experts = 1 << Bits;
            Span<T> scratch = Backward ? stackalloc T[experts] : default;
            for (int q = start; q < start + count; q++)
            {
                int b = q / Selectors, i = q % Selectors;
                var s = new ReadOnlySpan<T>(S + (long)q * Bits, Bits);           // row b, selector i: q·m = (b·k + i)·m
                var r = new Span<T>(R + ((long)i * Rows + b) * experts, experts);
                if (!Backward) { Kronecker(s, -1, r); continue; }
                for (int j = 0; j < Bits; j++)
                {
                    Kronecker(s, j, scratch);
                    T d = TensorPrimitives.Dot<T>(r, scratch);
                    ref T ds = ref Ds[(long)q * Bits + j];
                    ds = Accumulate ? ds + d : d;
                }
            }
            return 0;
        }

        /// <summary>out = ⊗ⱼ fⱼ over j = 0…m−1 (j = 0 the most significant), fⱼ = [1 − sⱼ, sⱼ], except f_replaced = [−1, 1].</summary>
        private readonly void Kronecker(ReadOnlySpan<T> s, int replaced, Span<T> output)
        {
            output[0] = T.One;
            int length = 1;
            for (int j = Bits - 1; j >= 0; j--, length *= 2)
            {
                var low = output[..length];
                T one = j == replaced ? T.One : s[j], zero = j == replaced ? -T.One : T.One - s[j];
                TensorPrimitives.Multiply(low, one, output.Slice(length, length));
                TensorPrimitives.Multiply(low, zero, low);
            }
        }
    }

    /// <summary>terms = −x·log(x + ε), derivative = scale·(−log(x + ε) − x/(x + ε)) on one chunk.</summary>
    private unsafe struct EntropyJob : IChunkJob
    {
        public T* X, Terms, Derivative;
        public T Scale;

        public readonly double Run(int start, int count)
        {
            var x = new ReadOnlySpan<T>(X + start, count);
            var terms = new Span<T>(Terms + start, count);
            var derivative = new Span<T>(Derivative + start, count);
            T epsilon = T.CreateTruncating(DSelectReference.Epsilon);
            TensorPrimitives.Add(x, epsilon, terms);                  // x + ε
            TensorPrimitives.Divide(x, terms, derivative);            // x/(x + ε)
            TensorPrimitives.Log(terms, terms);                       // log(x + ε)
            TensorPrimitives.Add(terms, derivative, derivative);      // log(x + ε) + x/(x + ε)
            TensorPrimitives.Multiply(derivative, -Scale, derivative);
            TensorPrimitives.Multiply(x, terms, terms);               // x·log(x + ε)
            TensorPrimitives.Negate(terms, terms);
            return 0;
        }
    }
}
