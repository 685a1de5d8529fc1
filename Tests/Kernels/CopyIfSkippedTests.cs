using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// <see cref="Backend{T}.CopyIfSkipped"/> on every float32 device (the SIMD path, ILGPU's CPU accelerator) and the float64
/// CPU path: with the step-control block's skip flag 0 the destination keeps its bits; with 1 it becomes the source exactly
/// (a copy: tolerance 0), including NaN and ±∞ values, for lengths that cover the float4 loop and both scalar ends and views
/// at every 16-byte phase (offsets 0–3); overlapping views are refused naming the operand. The float64 state's pair
/// (<see cref="Backend{T}.CopyIfSkippedFloat64"/>, <see cref="Backend{T}.CopyFloat64"/>, GradVac's targets) the same way:
/// bit for bit against the reference rule, NaN and ±∞ included, on every device.
/// </summary>
public class CopyIfSkippedTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Copies_exactly_when_the_step_was_skipped_and_only_then(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int length in new[] { 1, 3, 4, 7, 64, 1031 })
            foreach (int offset in new[] { 0, 1, 2, 3 })
            {
                var source = Tolerance.ToFloat(Tolerance.Random(length, 40 + length));
                source[0] = float.NaN;
                if (length > 2) source[^1] = float.NegativeInfinity;
                var destination = Tolerance.ToFloat(Tolerance.Random(length, 90 + length));
                using var src = backend.Allocate<float>(offset + length);
                using var dst = backend.Allocate<float>(offset + length);
                backend.Upload<float>(source, src.View.Slice(offset, length));
                foreach (float skip in new[] { 0f, 1f })
                {
                    backend.Upload<float>(destination, dst.View.Slice(offset, length));
                    var control = new float[StepControl.Length];
                    control[StepControl.Skip] = skip;
                    using var c = backend.Allocate<float>(control);
                    backend.CopyIfSkipped(c.View, src.View.Slice(offset, length), dst.View.Slice(offset, length));
                    var got = Array.ConvertAll(backend.ToArray(dst.View.Slice(offset, length)), BitConverter.SingleToInt32Bits);
                    var expected = Array.ConvertAll(skip != 0 ? source : destination, BitConverter.SingleToInt32Bits);
                    Assert.True(expected.SequenceEqual(got), $"{device}: length {length}, offset {offset}, skip {skip}");
                }
            }
    }

    [Fact]
    public void The_float64_path_copies_and_overlaps_are_refused()
    {
        var r = TestDevices.Reference;
        using var buffer = r.Allocate<double>([1, 2, 3, 4, 5, 6]);
        var control = new double[StepControl.Length];
        control[StepControl.Skip] = 1;
        using var c = r.Allocate<double>(control);
        r.CopyIfSkipped(c.View, buffer.View.Slice(0, 3), buffer.View.Slice(3, 3));
        Assert.Equal([1, 2, 3, 1, 2, 3], r.ToArray(buffer.View));
        Assert.Contains("destination", Assert.Throws<ArgumentException>(() => r.CopyIfSkipped(c.View, buffer.View.Slice(0, 3), buffer.View.Slice(1, 3))).Message);
        Assert.Throws<ArgumentException>(() => r.CopyIfSkipped(c.View, buffer.View.Slice(0, 3), buffer.View.Slice(0, 2)));
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_float64_state_copies_are_exact_and_only_when_skipped(string device)
    {
        var backend = TestDevices.Get(device);
        foreach (int length in new[] { 1, 5, 17, 1031 })
            foreach (int offset in new[] { 0, 1 })
            {
                var source = Tolerance.Random(length, 140 + length);
                source[0] = double.NaN;
                if (length > 2) source[^1] = double.PositiveInfinity;
                var destination = Tolerance.Random(length, 190 + length);
                using var src = backend.Allocate<double>(offset + length);
                using var dst = backend.Allocate<double>(offset + length);
                using var copy = backend.Allocate<double>(offset + length);
                backend.Upload<double>(source, src.View.Slice(offset, length));
                backend.CopyFloat64(src.View.Slice(offset, length), copy.View.Slice(offset, length));
                Assert.Equal(Array.ConvertAll(source, BitConverter.DoubleToInt64Bits),
                    Array.ConvertAll(backend.ToArray(copy.View.Slice(offset, length)), BitConverter.DoubleToInt64Bits));
                foreach (float skip in new[] { 0f, 1f })
                {
                    backend.Upload<double>(destination, dst.View.Slice(offset, length));
                    var control = new float[StepControl.Length];
                    control[StepControl.Skip] = skip;
                    using var c = backend.Allocate<float>(control);
                    backend.CopyIfSkippedFloat64(c.View, src.View.Slice(offset, length), dst.View.Slice(offset, length));
                    var got = Array.ConvertAll(backend.ToArray(dst.View.Slice(offset, length)), BitConverter.DoubleToInt64Bits);
                    var expected = Array.ConvertAll(skip != 0 ? source : destination, BitConverter.DoubleToInt64Bits);
                    Assert.True(expected.SequenceEqual(got), $"{device}: length {length}, offset {offset}, skip {skip}");
                }
            }
        using var buffer = backend.Allocate<double>([1, 2, 3, 4, 5, 6]);
        using var one = backend.Allocate<float>(new float[StepControl.Length]);
        Assert.Contains("destination", Assert.Throws<ArgumentException>(() => backend.CopyIfSkippedFloat64(one.View, buffer.View.Slice(0, 3), buffer.View.Slice(1, 3))).Message);
        Assert.Contains("destination", Assert.Throws<ArgumentException>(() => backend.CopyFloat64(buffer.View.Slice(0, 3), buffer.View.Slice(2, 3))).Message);
        Assert.Throws<ArgumentException>(() => backend.CopyFloat64(buffer.View.Slice(0, 3), buffer.View.Slice(3, 2)));
    }
}
