using System.Numerics;
using System.Runtime.Intrinsics;

namespace Engine.Kernels;

/// <summary>
/// A counter-based random number generator: the k-th number of a stream is a pure function of (seed, step, k), so a
/// kernel draws it with no state and every backend draws the same numbers. Hash: SplitMix64's finaliser (Steele, Lea
/// and Flood 2014; the constants of Java's SplittableRandom) applied twice over the key; normals by Box–Muller.
/// </summary>
public static class CounterRandom
{
    /// <summary>SplitMix64's finaliser: a bijection of 64-bit integers with good avalanche.</summary>
    public static ulong Mix(ulong z)
    {
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }

    /// <summary>A uniform number in (0, 1) (never 0 or 1): the top 53 bits of the hash of (seed, step, index, lane), centred.</summary>
    public static double Uniform(ulong seed, long step, int index, int lane)
    {
        ulong key = Mix(seed ^ Mix(unchecked((ulong)step * 0x9E3779B97F4A7C15UL + 2 * (ulong)(uint)index + (ulong)(uint)lane)));   // 2·index in 64 bits: no int overflow at index ≥ 2³⁰
        return ((key >> 11) + 0.5) * (1.0 / 9007199254740992.0);   // (k + ½)/2⁵³
    }

    /// <summary>A uniform float in (0, 1), exact in float32 and float64: (k + ½)/2²³ with k the top 23 bits of the hash of
    /// (seed, step, index, lane 0) — never 0 or 1, so a comparison with a probability 0 or 1 is never a tie.</summary>
    public static float UniformSingle(ulong seed, long step, int index)
    {
        ulong key = Mix(seed ^ Mix(unchecked((ulong)step * 0x9E3779B97F4A7C15UL + 2 * (ulong)(uint)index)));
        return ((key >> 41) + 0.5f) * (1f / 8388608f);                  // (k + ½)/2²³
    }

    /// <summary>
    /// <see cref="UniformSingle"/> for the indices <paramref name="first"/>, <paramref name="first"/> + 1, … into
    /// <paramref name="destination"/>, bit for bit the same floats, on SIMD lanes of 64-bit keys: the two SplitMix64
    /// finalisers per lane (Vector512 where the CPU has AVX-512 — its 64-bit multiply is one instruction —, else
    /// <see cref="Vector{T}"/>), two key vectors narrowed to one vector of 32-bit integers (the top 23 bits fit) and
    /// converted to float exactly; the tail one at a time. For the CPU path (ILGPU kernels call
    /// <see cref="UniformSingle"/> per thread).
    /// </summary>
    public static void FillUniformSingles(ulong seed, long step, int first, Span<float> destination)
    {
        int k = Vector512.IsHardwareAccelerated ? FillVector512(seed, step, first, destination)
            : Vector.IsHardwareAccelerated ? FillVector(seed, step, first, destination) : 0;
        for (; k < destination.Length; k++) destination[k] = UniformSingle(seed, step, first + k);
    }

    /// <summary>The unmixed key of index <paramref name="first"/>: <c>step·φ + 2·first</c> (mod 2⁶⁴), as in <see cref="UniformSingle"/>.</summary>
    private static ulong Key(long step, int first) => unchecked((ulong)step * 0x9E3779B97F4A7C15UL + 2 * (ulong)(uint)first);

    /// <summary>The whole vectors of <see cref="FillUniformSingles"/> on <see cref="Vector{T}"/>; returns how many it wrote.</summary>
    internal static int FillVector(ulong seed, long step, int first, Span<float> destination)
    {
        int lanes = Vector<ulong>.Count, k = 0;
        if (Vector<uint>.Count != 2 * lanes) return 0;
        Vector<ulong> keys = new Vector<ulong>(Key(step, first)) + Vector<ulong>.Indices * 2, seeds = new(seed), stride = new(2 * (ulong)lanes);
        for (; k + 2 * lanes <= destination.Length; k += 2 * lanes)
        {
            var low = Mix(seeds ^ Mix(keys)) >>> 41;
            keys += stride;
            var high = Mix(seeds ^ Mix(keys)) >>> 41;
            keys += stride;
            var top = Vector.ConvertToSingle(Vector.AsVectorInt32(Vector.Narrow(low, high)));
            ((top + new Vector<float>(0.5f)) * new Vector<float>(1f / 8388608f)).CopyTo(destination.Slice(k));
        }
        return k;
    }

    /// <summary>The whole vectors of <see cref="FillUniformSingles"/> on <see cref="Vector512{T}"/>; returns how many it wrote.</summary>
    internal static int FillVector512(ulong seed, long step, int first, Span<float> destination)
    {
        int k = 0;
        Vector512<ulong> keys = Vector512.Create(Key(step, first)) + Vector512<ulong>.Indices * 2, seeds = Vector512.Create(seed), stride = Vector512.Create(16UL);
        for (; k + 16 <= destination.Length; k += 16)
        {
            var low = Mix(seeds ^ Mix(keys)) >>> 41;
            keys += stride;
            var high = Mix(seeds ^ Mix(keys)) >>> 41;
            keys += stride;
            var top = Vector512.ConvertToSingle(Vector512.Narrow(low, high).AsInt32());
            ((top + Vector512.Create(0.5f)) * Vector512.Create(1f / 8388608f)).CopyTo(destination.Slice(k));
        }
        return k;
    }

    /// <summary><see cref="Mix(ulong)"/> on every lane.</summary>
    private static Vector<ulong> Mix(Vector<ulong> z)
    {
        z = (z ^ (z >>> 30)) * new Vector<ulong>(0xBF58476D1CE4E5B9UL);
        z = (z ^ (z >>> 27)) * new Vector<ulong>(0x94D049BB133111EBUL);
        return z ^ (z >>> 31);
    }

    /// <summary><see cref="Mix(ulong)"/> on every lane.</summary>
    private static Vector512<ulong> Mix(Vector512<ulong> z)
    {
        z = (z ^ (z >>> 30)) * Vector512.Create(0xBF58476D1CE4E5B9UL);
        z = (z ^ (z >>> 27)) * Vector512.Create(0x94D049BB133111EBUL);
        return z ^ (z >>> 31);
    }

    /// <summary>A standard normal number, z = √(−2 ln u₁)·cos(2π u₂) with u₁, u₂ = <see cref="Uniform"/> of lanes 0 and 1.</summary>
    public static double Normal(ulong seed, long step, int index)
    {
        double u1 = Uniform(seed, step, index, 0), u2 = Uniform(seed, step, index, 1);
        return Math.Sqrt(-2.0 * Math.Log(u1)) * Math.Cos(2.0 * Math.PI * u2);
    }

    /// <summary><see cref="Normal"/> with <see cref="DeviceMath"/>'s log and cos, for ILGPU kernels (no stack frame on
    /// CUDA): the same number to within a few ulps of float64, the same float32 after rounding but for rare ties.</summary>
    public static double NormalOnDevice(ulong seed, long step, int index)
    {
        double u1 = Uniform(seed, step, index, 0), u2 = Uniform(seed, step, index, 1);
        return Math.Sqrt(-2.0 * DeviceMath.Log(u1)) * DeviceMath.Cos2Pi(u2);
    }
}
