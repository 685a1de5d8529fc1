using System.Numerics;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// The <c>saved</c> argument of the state-updating passes (<see cref="Backend{T}.MocoTrack"/>,
/// <see cref="Backend{T}.DbMtlAverage"/>, <see cref="Backend{T}.ExcessRisks"/>), the skipped-step guard's copy made by the
/// pass itself: the pass writes the state as it was — bit for bit the values uploaded — and changes nothing else: the
/// updated state and the sums are bit for bit those of the same call without <c>saved</c>. On the SIMD CPU path (float32
/// and float64) and ILGPU's CPU accelerator, for T = 2 and 5, lengths below one float4, odd, and across the column chunks,
/// the state at offset 0 or 1 and the saved view at offset 0 or 1 (ILGPU's float4 path only where both start at the
/// vectors' 16-byte phase, scalars otherwise). Exact, except ILGPU's sums (float32 atomics of the groups' partial sums, in
/// an order that may vary: 1e-5 relative).
/// </summary>
public sealed class SavedStateTests
{
    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var kernel in new[] { "moco-track", "db-mtl-average", "excess-risks" })
            foreach (var device in new[] { "cpu-float", "cpu-double", TestDevices.IlgpuCpu })
                data.Add(kernel, device);
        return data;
    }

    private static readonly (int Count, int Length, int Offset, int SavedOffset)[] Shapes =
        [(2, 3, 0, 0), (5, 37, 0, 1), (2, 4100, 1, 1), (5, 4100, 0, 1), (2, 9001, 1, 0), (5, 8193, 0, 0)];

    [Theory]
    [MemberData(nameof(Cases))]
    public void The_pass_saves_the_old_state_bit_for_bit_and_changes_nothing_else(string kernel, string device)
    {
        if (device == "cpu-double") Check(TestDevices.Reference, kernel, device);
        else Check(TestDevices.Get(device == "cpu-float" ? TestDevices.Cpu : device), kernel, device);
    }

    [Fact]
    public void A_saved_view_of_the_wrong_length_or_over_the_state_is_refused()
    {
        var backend = TestDevices.Get(TestDevices.Cpu);
        const int count = 2, length = 16;
        using var state = backend.Allocate<float>(2 * count * length);
        using var g = backend.Allocate<float>(count * length);
        using var scales = backend.Allocate<float>(count + 1);
        using var gram = backend.Allocate<float>(count * count);
        var rows = state.View.Slice(0, count * length);
        var shortView = state.View.Slice(count * length, count * length - 1);
        var overlapping = state.View.Slice(length, count * length);
        var e = Assert.Throws<ArgumentException>(() => backend.MocoTrack(rows, g.View, count, length, scales.View, gram.View, shortView));
        Assert.Equal("saved", e.ParamName);
        Assert.Contains("saved has 31 elements but tracked has 32", e.Message);
        e = Assert.Throws<ArgumentException>(() => backend.MocoTrack(rows, g.View, count, length, scales.View, gram.View, overlapping));
        Assert.Contains("saved overlaps tracked", e.Message);
        e = Assert.Throws<ArgumentException>(() => backend.ExcessRisks(g.View, count, rows, gram.View.Slice(0, count), overlapping));
        Assert.Contains("saved overlaps squaredSums", e.Message);
        e = Assert.Throws<ArgumentException>(() => backend.DbMtlAverage(g.View, count, length, scales.View.Slice(0, count), scales.View.Slice(0, 1),
            0.9, 0, rows, gram.View.Slice(0, count), shortView));
        Assert.Contains("saved has 31 elements but average has 32", e.Message);
    }

    private static void Check<T>(Backend<T> backend, string kernel, string device) where T : unmanaged, IFloatingPointIeee754<T>
    {
        foreach (var (count, length, offset, savedOffset) in Shapes)
        {
            string what = $"{kernel} on {device}, T={count} P={length}, state at {offset}, saved at {savedOffset}";
            int n = count * length;
            var rng = new Random(n + offset);
            // ExcessMTL's S is a sum of squares (≥ 0); the others any sign. Uploaded as T, so the bits are the device's.
            T[] state0 = [.. Enumerable.Range(0, n).Select(_ => T.CreateTruncating(kernel == "excess-risks" ? rng.NextDouble() : 2 * rng.NextDouble() - 1))];
            T[] g = [.. Enumerable.Range(0, n).Select(_ => T.CreateTruncating(2 * rng.NextDouble() - 1))];
            int sums = kernel == "moco-track" ? count * count : count;

            var (plainState, plainSums, _) = Pass(backend, kernel, state0, g, count, length, offset, sums, savedOffset: -1);
            var (state, sumsOut, saved) = Pass(backend, kernel, state0, g, count, length, offset, sums, savedOffset);
            Assert.True(Bits(state0).SequenceEqual(Bits(saved!)), $"{what}: saved is not the old state");
            Assert.True(Bits(plainState).SequenceEqual(Bits(state)), $"{what}: the state differs with saved");
            if (TestDevices.IsEmulated(device))   // ILGPU adds the groups' sums by atomics: their order, so the last bits, may vary
                Tolerance.AllClose(Array.ConvertAll(plainSums, double.CreateTruncating), Array.ConvertAll(sumsOut, double.CreateTruncating),
                    1e-5, 1e-6, $"{what}: the sums with saved");
            else Assert.True(Bits(plainSums).SequenceEqual(Bits(sumsOut)), $"{what}: the sums differ with saved");
            Assert.False(Bits(state0).SequenceEqual(Bits(state)), $"{what}: the pass did not change the state (the test needs it to)");
        }
    }

    /// <summary>One call of <paramref name="kernel"/> on fresh buffers (the state and vectors at <paramref name="offset"/>);
    /// with <paramref name="savedOffset"/> ≥ 0 a saved view at that offset. Returns the new state, the sums and saved.</summary>
    private static (T[] State, T[] Sums, T[]? Saved) Pass<T>(Backend<T> backend, string kernel, T[] state0, T[] g, int count, int length,
        int offset, int sumCount, int savedOffset) where T : unmanaged, IFloatingPointIeee754<T>
    {
        int n = state0.Length;
        using var stateBuffer = backend.Allocate<T>([.. new T[offset], .. state0]);
        using var vectorBuffer = backend.Allocate<T>([.. new T[offset], .. g]);
        using var sumBuffer = backend.Allocate<T>(Enumerable.Repeat(T.CreateTruncating(7), sumCount).ToArray());
        using var savedBuffer = backend.Allocate<T>(Math.Max(savedOffset, 0) + n);
        var state = stateBuffer.View.Slice(offset, n);
        var vectors = vectorBuffer.View.Slice(offset, n);
        var saved = savedOffset >= 0 ? savedBuffer.View.Slice(savedOffset, n) : default;
        switch (kernel)
        {
            case "moco-track":
            {
                using var scales = backend.Allocate<T>([.. Enumerable.Range(0, count + 1).Select(i => T.CreateTruncating(0.2 + 0.1 * i))]);
                backend.MocoTrack(state, vectors, count, length, scales.View, sumBuffer.View, saved);
                break;
            }
            case "db-mtl-average":
            {
                using var weights = backend.Allocate<T>([.. Enumerable.Range(0, count).Select(i => T.CreateTruncating(0.5 + i))]);
                using var steps = backend.Allocate<T>([T.CreateTruncating(3)]);
                backend.DbMtlAverage(vectors, count, length, weights.View, steps.View, 0.9, 0.5, state, sumBuffer.View, saved);
                break;
            }
            default:
                backend.ExcessRisks(vectors, count, state, sumBuffer.View, saved);
                break;
        }
        return (backend.ToArray(state), backend.ToArray(sumBuffer.View), savedOffset >= 0 ? backend.ToArray(saved) : null);
    }

    private static long[] Bits<T>(T[] values) where T : unmanaged, IFloatingPointIeee754<T> =>
        Array.ConvertAll(values, v => typeof(T) == typeof(float) ? BitConverter.SingleToInt32Bits(float.CreateTruncating(v)) : BitConverter.DoubleToInt64Bits(double.CreateTruncating(v)));
}
