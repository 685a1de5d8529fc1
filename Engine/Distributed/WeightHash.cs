using System.Runtime.InteropServices;

namespace Engine.Distributed;

/// <summary>
/// A 64-bit hash of the bit patterns of a float vector (FNV-1a over 32-bit words, then a final avalanche): equal
/// vectors hash equal; one flipped bit changes the hash (so −0 ≠ +0 and NaN payloads count: "bit-identical" is meant
/// literally). Not cryptographic; it only has to catch ranks whose weights drifted apart.
/// </summary>
public static class WeightHash
{
    /// <summary>The hash of <paramref name="values"/>.</summary>
    public static long Of(ReadOnlySpan<float> values)
    {
        ulong h = 0xcbf29ce484222325UL;
        foreach (uint word in MemoryMarshal.Cast<float, uint>(values)) h = (h ^ word) * 0x100000001b3UL;
        h ^= h >> 33; h *= 0xff51afd7ed558ccdUL; h ^= h >> 33; h *= 0xc4ceb9fe1a85ec53UL; h ^= h >> 33;
        return unchecked((long)h);
    }
}
