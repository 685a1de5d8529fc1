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
