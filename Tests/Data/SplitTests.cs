using Engine.Tests.Infrastructure;
using Engine.Data;

namespace Engine.Tests.Data;

/// <summary>Seeded splits: reproducible, disjoint, covering, of the stated sizes.</summary>
public class SplitTests
{
    [Theory]
    [InlineData(768, 0.8, 0.0)]
    [InlineData(6497, 0.7, 0.15)]
    [InlineData(1, 0.8, 0.1)]
    [InlineData(7, 0.5, 0.25)]
    public void Parts_are_disjoint_cover_every_row_and_have_rounded_sizes(int n, double train, double validation)
    {
        var split = DataSplit.Shuffled(n, train, validation, seed: 42);
        int expectedTrain = (int)Math.Round(n * train, MidpointRounding.AwayFromZero);
        Assert.Equal(expectedTrain, split.Train.Length);
        Assert.Equal(Math.Min(n - expectedTrain, (int)Math.Round(n * validation, MidpointRounding.AwayFromZero)), split.Validation.Length);
        var all = split.Train.Concat(split.Validation).Concat(split.Test).ToArray();
        Assert.Equal(n, all.Length);
        Assert.Equal(Enumerable.Range(0, n), all.Order());
    }

    [Fact]
    public void Same_seed_same_split_other_seed_other_split()
    {
        var a = DataSplit.Shuffled(768, 0.8, 0.1, seed: 7);
        var b = DataSplit.Shuffled(768, 0.8, 0.1, seed: 7);
        var c = DataSplit.Shuffled(768, 0.8, 0.1, seed: 8);
        Assert.Equal(a.Train, b.Train);
        Assert.Equal(a.Validation, b.Validation);
        Assert.Equal(a.Test, b.Test);
        Assert.NotEqual(a.Train, c.Train);
    }

    [Fact]
    public void Permutation_is_pinned_to_splitmix64_fisher_yates()
    {
        // Independent re-implementation of the documented algorithm, so the split cannot drift silently
        // between versions (a saved experiment must see the same rows).
        const int n = 50;
        ulong state = 123;
        var expected = Enumerable.Range(0, n).ToArray();
        for (int i = n - 1; i > 0; i--)
        {
            state += 0x9E3779B97F4A7C15UL;
            ulong z = state;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            z ^= z >> 31;
            int j = (int)(((System.Numerics.BigInteger)z * (i + 1)) >> 64);
            (expected[i], expected[j]) = (expected[j], expected[i]);
        }
        Assert.Equal(expected, DataSplit.Permutation(n, 123));
        Assert.NotEqual(Enumerable.Range(0, n), expected);
    }

    [Fact]
    public void The_in_place_permutation_equals_the_allocating_one_and_allocates_nothing()
    {
        // The trainer reuses one array for every epoch: a buffer still holding last epoch's order must give the same
        // permutation as a fresh one, and filling it must not allocate.
        var reused = new int[1000];
        DataSplit.Permutation(reused, 7);
        DataSplit.Permutation(reused, 123);
        Assert.Equal(DataSplit.Permutation(1000, 123), reused);
        WarmAllocations.AssertNone(() => { DataSplit.Permutation(reused, 124); });
        Assert.Equal(DataSplit.Permutation(1000, 124), reused);
    }

    [Fact]
    public void Shuffle_is_roughly_uniform()
    {
        // Over 4000 seeds, each of 5 rows lands in position 0 about 800 times (binomial σ ≈ 25; allow 5σ).
        var counts = new int[5];
        for (ulong seed = 0; seed < 4000; seed++) counts[DataSplit.Permutation(5, seed)[0]]++;
        Assert.All(counts, c => Assert.InRange(c, 800 - 125, 800 + 125));
    }

    [Fact]
    public void Bad_fractions_are_rejected()
    {
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.Shuffled(10, 0.9, 0.2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.Shuffled(10, -0.1, 0.2, 1));
        Assert.Throws<ArgumentOutOfRangeException>(() => DataSplit.Shuffled(10, double.NaN, 0.2, 1));
    }
}
