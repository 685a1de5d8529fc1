using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// Philox-4x32-10 against the Random123 known-answer vectors, and the dropout kernel: bit-identical masks and values on
/// every float32 device (the SIMD CPU path, ILGPU's CPU accelerator, CUDA where present) against the scalar reference
/// <see cref="DropoutMask.Keeps"/>, the backward reusing the forward's mask, and the fraction dropped against p within
/// 5σ of the binomial (deterministic given the seed).
/// </summary>
public class DropoutKernelTests
{
    /// <summary>Random123 1.14, <c>examples/kat_vectors</c>, the three <c>philox4x32 10</c> lines: counter, key → output.</summary>
    [Theory]
    [InlineData(0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x00000000u, 0x6627e8d5u, 0xe169c58du, 0xbc57ac4cu, 0x9b00dbd8u)]
    [InlineData(0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0xffffffffu, 0x408f276du, 0x41c83b0eu, 0xa20bc7c6u, 0x6d5451fdu)]
    [InlineData(0x243f6a88u, 0x85a308d3u, 0x13198a2eu, 0x03707344u, 0xa4093822u, 0x299f31d0u, 0xd16cfe09u, 0x94fdccebu, 0x5001e420u, 0x24126ea1u)]
    public void Philox_4x32_10_matches_the_Random123_known_answers(uint c0, uint c1, uint c2, uint c3, uint k0, uint k1,
        uint r0, uint r1, uint r2, uint r3)
    {
        var block = Philox.Block(c0, c1, c2, c3, k0, k1);
        Assert.Equal([r0, r1, r2, r3], new[] { block.X0, block.X1, block.X2, block.X3 });
    }

    [Fact]
    public void The_mask_layout_is_eight_blocks_per_32_elements_in_element_order()
    {
        var mask = new DropoutMask(0x0123456789ABCDEFUL, 0x1_0000_0002L, 77, 0.5);
        Assert.Equal((0x89ABCDEFu, 0x01234567u, 2u, 1u), (mask.Key0, mask.Key1, mask.StepLow, mask.StepHigh));
        foreach (int i in new[] { 0, 5, 8, 31, 32, 45, 1000 })
        {
            int block = 8 * (i / 32) + i % 8, word = i % 32 / 8;
            Assert.Equal(Philox.Block((uint)block, 77, 2, 1, 0x89ABCDEF, 0x01234567).Word(word), mask.Word(i));
        }
        Assert.Equal(2147483648u, mask.Threshold);                                  // ⌊0.5·2³²⌋
        Assert.Equal(0u, new DropoutMask(1, 0, 0, 0).Threshold);                    // p = 0 keeps everything
        Assert.Throws<ArgumentOutOfRangeException>(() => new DropoutMask(1, 0, 0, 1.0));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DropoutMask(1, 0, 0, -0.1));
        Assert.Throws<ArgumentOutOfRangeException>(() => new DropoutMask(1, 0, 0, double.NaN));
    }

    public static TheoryData<string, int> DevicesAndSizes()
    {
        var data = new TheoryData<string, int>();
        foreach (var row in TestDevices.Float32)
            foreach (int n in new[] { 1, 31, 32, 33, 100, 4099 }) data.Add(row.Data, n);
        data.Add(TestDevices.Cpu, 300_001);                       // split across the CPU backend's workers
        return data;
    }

    /// <summary>y = keep ? x·(float)(1/(1−p)) : 0 computed here element by element from the scalar reference: every
    /// device must give exactly these bits, so the SIMD path and the ILGPU kernel draw identical masks.</summary>
    [Theory]
    [MemberData(nameof(DevicesAndSizes))]
    public void Forward_and_backward_match_the_scalar_reference_bit_for_bit(string device, int n)
    {
        var backend = TestDevices.Get(device);
        var x = Tolerance.ToFloat(Tolerance.Random(n, seed: n));
        var dy = Tolerance.ToFloat(Tolerance.Random(n, seed: n + 1));
        var old = Tolerance.ToFloat(Tolerance.Random(n, seed: n + 2));
        foreach (double p in new[] { 0.0, 0.1, 0.5, 0.9 })
        {
            var mask = new DropoutMask(seed: 42, step: 1234, layer: DropoutMask.LayerId("trunk.0.dropout"), p);
            float scale = (float)mask.Scale;
            using var xs = backend.Allocate<float>(x);
            using var ys = backend.Allocate<float>(n);
            backend.Dropout(xs.View, mask, ys.View, accumulate: false);
            var y = backend.ToArray(ys.View);
            using var dys = backend.Allocate<float>(dy);
            using var dxs = backend.Allocate<float>(old);
            backend.Dropout(dys.View, mask, dxs.View, accumulate: true);
            var dx = backend.ToArray(dxs.View);
            for (int i = 0; i < n; i++)
            {
                bool keep = mask.Keeps(i);
                Assert.True(BitConverter.SingleToInt32Bits(keep ? x[i] * scale : 0f) == BitConverter.SingleToInt32Bits(y[i]), $"p {p}, y[{i}] = {y[i]}");
                Assert.True(BitConverter.SingleToInt32Bits(old[i] + (keep ? dy[i] * scale : 0f)) == BitConverter.SingleToInt32Bits(dx[i]), $"p {p}, dx[{i}] = {dx[i]}");
            }
            backend.Dropout(xs.View, mask, xs.View, accumulate: false);                 // in place
            Assert.Equal(y, backend.ToArray(xs.View));
        }
    }

    [Fact]
    public void The_SIMD_CPU_path_and_the_ILGPU_CPU_accelerator_draw_the_same_mask()
    {
        const int n = 10_007;
        var cpu = TestDevices.Get(TestDevices.Cpu);
        var ilgpu = TestDevices.Get(TestDevices.IlgpuCpu);
        var ones = Enumerable.Repeat(1f, n).ToArray();
        foreach (long step in new[] { 0L, 1L, 1L << 40 })
        {
            var mask = new DropoutMask(7, step, 3, 0.3);
            float[] Mask(Backend<float> b)
            {
                using var x = b.Allocate<float>(ones);
                using var y = b.Allocate<float>(n);
                b.Dropout(x.View, mask, y.View, accumulate: false);
                return b.ToArray(y.View);
            }
            var a = Mask(cpu);
            Assert.Equal(a, Mask(ilgpu));
            Assert.Contains(a, v => v == 0f);
            Assert.Contains(a, v => v != 0f);
        }
    }

    /// <summary>n = 10⁶ elements: the number dropped D is Binomial(n, p) under the model of independent uniform words, σ =
    /// √(np(1−p)) (458 at p = 0.3); |D − np| ≤ 5σ for three p and two layers (a 5σ miss has probability 6·10⁻⁷, and the
    /// draw is fixed by the seed). Kept values are exactly x/(1 − p), so the mean of y estimates the mean of x.</summary>
    [Theory]
    [InlineData(0.1)]
    [InlineData(0.3)]
    [InlineData(0.5)]
    public void The_fraction_dropped_is_p_within_five_sigma(double p)
    {
        const int n = 1_000_000;
        var cpu = TestDevices.Get(TestDevices.Cpu);
        using var x = cpu.Allocate<float>(Enumerable.Repeat(1f, n).ToArray());
        using var y = cpu.Allocate<float>(n);
        double sigma = Math.Sqrt(n * p * (1 - p));
        foreach (uint layer in new[] { 1u, 2u })
        {
            cpu.Dropout(x.View, new DropoutMask(2026, 5, layer, p), y.View, accumulate: false);
            var values = cpu.ToArray(y.View);
            int dropped = values.Count(v => v == 0f);
            Assert.True(Math.Abs(dropped - n * p) <= 5 * sigma, $"p {p}, layer {layer}: dropped {dropped} of {n}, expected {n * p} ± {5 * sigma:F0}");
            Assert.All(values, v => Assert.True(v == 0f || v == (float)(1 / (1 - p))));
        }
    }
}
