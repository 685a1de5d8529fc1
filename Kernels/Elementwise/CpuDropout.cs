using System.Runtime.CompilerServices;
using System.Runtime.Intrinsics;
using System.Runtime.Intrinsics.X86;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Dropout on the SIMD CPU path. The mask's words come from Philox-4x32-10 run on eight blocks at once, one block per
/// 32-bit lane of a <see cref="Vector256{T}"/> (AVX2 <c>vpmuludq</c> gives the 32×32→64 products of the even lanes; the
/// odd lanes are shifted down and multiplied the same way): the eight blocks of a 32-element group yield four vectors that
/// are the group's words in element order (<see cref="DropoutMask"/>'s layout). Without AVX2, and for the last partial
/// group, the words come from the scalar <see cref="DropoutMask.Word"/> — the readable reference — so every path draws the
/// same bits (tested against it and against the ILGPU kernel). In float32 the mask is applied eight lanes at a time too.
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void Dropout(View<T> input, DropoutMask mask, View<T> output, bool accumulate)
    {
        KernelChecks.Unary(this, input, nameof(input), output, nameof(output));
        if (accumulate && input == output) throw new ArgumentException("Dropout: an accumulating output cannot be the input.", nameof(output));
        if (input.Length == 0) return;
        RunChunks(new DropoutJob { X = input.Pointer(), Y = output.Pointer(), N = input.Length, Mask = mask, Scale = T.CreateChecked(mask.Scale), Accumulate = accumulate },
            (input.Length + 31) / 32, 32);
    }

    /// <summary>Groups [start, start + count) of 32 elements: words, then y (+)= keep ? x·scale : 0.</summary>
    private unsafe struct DropoutJob : IChunkJob
    {
        public T* X, Y;
        public int N;
        public DropoutMask Mask;
        public T Scale;
        public bool Accumulate;

        public readonly double Run(int start, int count)
        {
            uint* words = stackalloc uint[32];
            for (int g = start; g < start + count; g++)
            {
                int first = g * 32, length = Math.Min(32, N - first);
                if (length == 32 && Avx2.IsSupported)
                {
                    PhiloxGroup(Mask, g, words);
                    if (typeof(T) == typeof(float)) { ApplyGroup((float*)X + first, (float*)Y + first, words, this); continue; }
                }
                else for (int e = 0; e < length; e++) words[e] = Mask.Word(first + e);
                for (int e = 0; e < length; e++)
                {
                    T v = words[e] >= Mask.Threshold ? X[first + e] * Scale : T.Zero;
                    Y[first + e] = Accumulate ? Y[first + e] + v : v;
                }
            }
            return 0;
        }
    }

    /// <summary>float32, one full group: y (+)= (word ≥ t) ? x·scale : 0, eight lanes at a time (an unsigned compare and a
    /// select; the same products as the scalar loop, so the same bits).</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static unsafe void ApplyGroup(float* x, float* y, uint* words, in DropoutJob job)
    {
        var threshold = Vector256.Create(job.Mask.Threshold);
        var scale = Vector256.Create(float.CreateTruncating(job.Scale));
        for (int k = 0; k < 32; k += 8)
        {
            var keep = Vector256.GreaterThanOrEqual(Vector256.Load(words + k), threshold).AsSingle();
            var v = Vector256.ConditionalSelect(keep, Vector256.Load(x + k) * scale, Vector256<float>.Zero);
            if (job.Accumulate) v += Vector256.Load(y + k);
            v.Store(y + k);
        }
    }

    /// <summary>The 32 words of group <paramref name="group"/> (blocks 8g … 8g + 7 in the lanes), in element order.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    internal static unsafe void PhiloxGroup(DropoutMask mask, int group, uint* words)
    {
        var c0 = Vector256.Create((uint)(group * 8)) + Vector256.Create(0u, 1, 2, 3, 4, 5, 6, 7);
        var c1 = Vector256.Create(mask.Layer);
        var c2 = Vector256.Create(mask.StepLow);
        var c3 = Vector256.Create(mask.StepHigh);
        uint k0 = mask.Key0, k1 = mask.Key1;
        var m0 = Vector256.Create(Philox.M0);
        var m1 = Vector256.Create(Philox.M1);
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += Philox.W0; k1 += Philox.W1; }
            var (hi0, lo0) = MulHiLo(m0, c0);
            var (hi1, lo1) = MulHiLo(m1, c2);
            c0 = hi1 ^ c1 ^ Vector256.Create(k0);
            c1 = lo1;
            c2 = hi0 ^ c3 ^ Vector256.Create(k1);
            c3 = lo0;
        }
        c0.Store(words);
        c1.Store(words + 8);
        c2.Store(words + 16);
        c3.Store(words + 24);
    }

    /// <summary>The high and low halves of the eight 32×32→64 products m·c.</summary>
    [MethodImpl(MethodImplOptions.AggressiveInlining)]
    private static (Vector256<uint> Hi, Vector256<uint> Lo) MulHiLo(Vector256<uint> m, Vector256<uint> c)
    {
        var even = Avx2.Multiply(m, c);                                                    // lanes 0, 2, 4, 6
        var odd = Avx2.Multiply(m, Avx2.ShiftRightLogical(c.AsUInt64(), 32).AsUInt32());   // lanes 1, 3, 5, 7
        var low32 = Vector256.Create(0xFFFFFFFFUL);
        var lo = (even & low32) | (odd << 32);
        var hi = (even >> 32) | (odd & ~low32);
        return (hi.AsUInt32(), lo.AsUInt32());
    }
}
