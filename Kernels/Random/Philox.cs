namespace Engine.Kernels;

/// <summary>The four 32-bit words one Philox block produces.</summary>
public readonly struct PhiloxBlock(uint x0, uint x1, uint x2, uint x3)
{
    /// <summary>Word 0.</summary>
    public readonly uint X0 = x0;
    /// <summary>Word 1.</summary>
    public readonly uint X1 = x1;
    /// <summary>Word 2.</summary>
    public readonly uint X2 = x2;
    /// <summary>Word 3.</summary>
    public readonly uint X3 = x3;

    /// <summary>Word <paramref name="index"/> (0…3).</summary>
    public uint Word(int index) => index == 0 ? X0 : index == 1 ? X1 : index == 2 ? X2 : X3;
}

/// <summary>
/// Philox-4x32-10 (Salmon, Moraes, Dror and Shaw, "Parallel random numbers: as easy as 1, 2, 3", SC 2011; the Random123
/// library's <c>philox4x32</c> with its default 10 rounds): a keyed bijection of 128-bit counters, so the k-th random
/// block is a pure function of (key, counter) and every backend draws the same bits with no state. Each round multiplies
/// counter words 0 and 2 by M₀ = 0xD2511F53 and M₁ = 0xCD9E8D57 (full 64-bit products, split hi/lo) and mixes:
/// <c>(c₀, c₁, c₂, c₃) ← (hi₁ ⊕ c₁ ⊕ k₀, lo₁, hi₀ ⊕ c₃ ⊕ k₁, lo₀)</c>; between rounds the key is bumped by the Weyl
/// constants W₀ = 0x9E3779B9, W₁ = 0xBB67AE85. Checked against Random123's <c>kat_vectors</c> (PhiloxTests).
/// Plain static code: the CPU path calls it and ILGPU kernels inline it. The SIMD version is in CpuDropout.cs.
/// </summary>
public static class Philox
{
    /// <summary>Multiplier of counter word 0.</summary>
    public const uint M0 = 0xD2511F53;
    /// <summary>Multiplier of counter word 2.</summary>
    public const uint M1 = 0xCD9E8D57;
    /// <summary>Weyl increment of key word 0.</summary>
    public const uint W0 = 0x9E3779B9;
    /// <summary>Weyl increment of key word 1.</summary>
    public const uint W1 = 0xBB67AE85;

    /// <summary>Philox-4x32-10 of counter (c0, c1, c2, c3) under key (k0, k1).</summary>
    public static PhiloxBlock Block(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1)
    {
        for (int round = 0; round < 10; round++)
        {
            if (round > 0) { k0 += W0; k1 += W1; }
            ulong p0 = (ulong)M0 * c0, p1 = (ulong)M1 * c2;
            uint hi0 = (uint)(p0 >> 32), lo0 = (uint)p0, hi1 = (uint)(p1 >> 32), lo1 = (uint)p1;
            c0 = hi1 ^ c1 ^ k0;
            c1 = lo1;
            c2 = hi0 ^ c3 ^ k1;
            c3 = lo0;
        }
        return new PhiloxBlock(c0, c1, c2, c3);
    }
}

/// <summary>
/// Which elements a dropout layer keeps at one training step: element i of the layer's output is dropped when its Philox
/// word is below <see cref="Threshold"/> = ⌊p·2³²⌋ (so P(drop) = ⌊p·2³²⌋/2³², within 2⁻³² of p), else scaled by 1/(1 − p).
/// The word of element i is word ⌊(i mod 32)/8⌋ of the Philox-4x32-10 block with counter
/// (8⌊i/32⌋ + i mod 8, layer, step_lo, step_hi) and key (seed_lo, seed_hi): eight consecutive blocks give 32 consecutive
/// elements, block j's word w being element 8w + j, so the SIMD path (eight blocks in the lanes of a vector) writes its
/// words in element order. A pure function of (seed, step, layer, i): the backward regenerates the mask instead of
/// storing it, and the CPU path and the ILGPU kernel agree bit for bit. Maths: docs/maths.md §21.1.
/// </summary>
public readonly struct DropoutMask
{
    /// <summary>The mask of layer <paramref name="layer"/> at step <paramref name="step"/> of a run seeded by
    /// <paramref name="seed"/>, dropping with probability <paramref name="probability"/> ∈ [0, 1).</summary>
    public DropoutMask(ulong seed, long step, uint layer, double probability)
    {
        if (!(probability >= 0 && probability < 1))
            throw new ArgumentOutOfRangeException(nameof(probability), probability, "A dropout probability must lie in [0, 1).");
        Key0 = (uint)seed;
        Key1 = (uint)(seed >> 32);
        Layer = layer;
        StepLow = (uint)(ulong)step;
        StepHigh = (uint)((ulong)step >> 32);
        Threshold = (uint)Math.Min(Math.Floor(probability * 4294967296.0), uint.MaxValue);
        Probability = probability;
    }

    /// <summary>Key word 0 (the seed's low half).</summary>
    public readonly uint Key0;
    /// <summary>Key word 1 (the seed's high half).</summary>
    public readonly uint Key1;
    /// <summary>Counter word 1: the layer.</summary>
    public readonly uint Layer;
    /// <summary>Counter word 2: the step's low half.</summary>
    public readonly uint StepLow;
    /// <summary>Counter word 3: the step's high half.</summary>
    public readonly uint StepHigh;
    /// <summary>⌊p·2³²⌋: an element whose word is below it is dropped.</summary>
    public readonly uint Threshold;
    /// <summary>p.</summary>
    public readonly double Probability;

    /// <summary>1/(1 − p), what kept elements are multiplied by (inverted dropout).</summary>
    public double Scale => 1.0 / (1.0 - Probability);

    /// <summary>The Philox word of element <paramref name="element"/> (the readable reference of both kernels).</summary>
    public uint Word(int element)
    {
        int group = element >> 5, within = element & 31;
        var block = Philox.Block((uint)(group * 8 + (within & 7)), Layer, StepLow, StepHigh, Key0, Key1);
        return block.Word(within >> 3);
    }

    /// <summary>Whether element <paramref name="element"/> is kept.</summary>
    public bool Keeps(int element) => Word(element) >= Threshold;

    /// <summary>A stable 32-bit id of a layer from its name (FNV-1a), the mask's counter word 1.</summary>
    public static uint LayerId(string name)
    {
        ArgumentNullException.ThrowIfNull(name);
        uint hash = 2166136261;
        foreach (char c in name) { hash ^= c; hash *= 16777619; }
        return hash;
    }
}
