namespace Engine.Data;

/// <summary>
/// A partition of the row indices 0…n−1 into train, validation and test parts, by a seeded shuffle.
/// The same (n, fractions, seed) always gives the same split, on every machine and .NET version: the
/// shuffle is Fisher–Yates driven by SplitMix64 (a fixed, documented generator), not <see cref="Random"/>.
/// </summary>
/// <param name="Train">Training rows (standardization is fitted on these only).</param>
/// <param name="Validation">Validation rows.</param>
/// <param name="Test">Test rows.</param>
public sealed record DataSplit(int[] Train, int[] Validation, int[] Test)
{
    /// <summary>
    /// Shuffles 0…rowCount−1 with <paramref name="seed"/> and cuts it into
    /// round(n·train) training rows, round(n·validation) validation rows and the rest as test rows.
    /// </summary>
    public static DataSplit Shuffled(int rowCount, double trainFraction, double validationFraction, ulong seed)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(rowCount);
        if (!(trainFraction >= 0 && validationFraction >= 0 && trainFraction + validationFraction <= 1 + 1e-12))
            throw new ArgumentOutOfRangeException(nameof(trainFraction),
                $"Fractions must be non-negative with train + validation ≤ 1 (got {trainFraction} and {validationFraction}).");
        var order = Permutation(rowCount, seed);
        int train = (int)Math.Round(rowCount * trainFraction, MidpointRounding.AwayFromZero);
        int validation = Math.Min(rowCount - train, (int)Math.Round(rowCount * validationFraction, MidpointRounding.AwayFromZero));
        return new DataSplit(order[..train], order[train..(train + validation)], order[(train + validation)..]);
    }

    /// <summary>A train/test split (no validation part).</summary>
    public static DataSplit TrainTest(int rowCount, double trainFraction, ulong seed) =>
        Shuffled(rowCount, trainFraction, 0, seed);

    /// <summary>A seeded uniform permutation of 0…n−1 (Fisher–Yates, SplitMix64).</summary>
    public static int[] Permutation(int n, ulong seed)
    {
        var order = new int[n];
        Permutation(order, seed);
        return order;
    }

    /// <summary>
    /// The same permutation written into <paramref name="order"/> (its length is n), allocating nothing: the trainer
    /// reuses one array for every epoch's shuffle.
    /// </summary>
    public static void Permutation(Span<int> order, ulong seed)
    {
        int n = order.Length;
        for (int i = 0; i < n; i++) order[i] = i;
        ulong state = seed;
        for (int i = n - 1; i > 0; i--)
        {
            // j uniform in [0, i]: the high 64 bits of a 64×64-bit product (Lemire); bias < (i+1)/2⁶⁴.
            ulong j = Math.BigMul(SplitMix64(ref state), (ulong)(i + 1), out _);
            (order[i], order[(int)j]) = (order[(int)j], order[i]);
        }
    }

    /// <summary>SplitMix64 (Steele, Lea, Flood 2014): state += φ·2⁶⁴, then a bijective mix of the state.</summary>
    internal static ulong SplitMix64(ref ulong state)
    {
        ulong z = state += 0x9E3779B97F4A7C15UL;
        z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
        z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
        return z ^ (z >> 31);
    }
}
