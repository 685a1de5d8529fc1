using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>Buffers, views, the arena, the flat parameter layout and device selection.</summary>
public class CoreTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Upload_then_download_round_trips_a_slice(string device)
    {
        var backend = TestDevices.Get(device);
        using var buffer = backend.Allocate<float>(10);
        float[] data = [1, 2, 3, 4, 5, 6, 7, 8, 9, 10];
        backend.Upload(data, buffer.View);
        Assert.Equal([4f, 5f, 6f], backend.ToArray(buffer.Slice(3, 3)));
        backend.Upload([-1f, -2f], buffer.Slice(8, 2));
        Assert.Equal(-2f, backend.Read(buffer.View, 9));
        Assert.Equal(8f, backend.Read(buffer.View, 7));
    }

    [Fact]
    public void Views_out_of_range_throw_naming_the_bounds()
    {
        using var cpu = new CpuBackend<float>();
        using var buffer = cpu.Allocate<float>(8);
        var error = Assert.Throws<ArgumentOutOfRangeException>(() => buffer.Slice(6, 3));
        Assert.Contains("[6, 9)", error.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => buffer.View.Slice(2, 4).Slice(3, 2));
    }

    [Fact]
    public void Upload_of_the_wrong_length_throws()
    {
        using var cpu = new CpuBackend<float>();
        using var buffer = cpu.Allocate<float>(4);
        var error = Assert.Throws<ArgumentException>(() => cpu.Upload([1f, 2f, 3f], buffer.View));
        Assert.Contains("3 elements", error.Message);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void A_disposed_buffer_is_rejected(string device)
    {
        var backend = TestDevices.Get(device);
        var buffer = backend.Allocate<float>(4);
        backend.Upload([1f, 2f, 3f, 4f], buffer.View);
        Assert.Equal([1f, 2f, 3f, 4f], backend.ToArray(buffer.View)); // usable before
        var view = buffer.View;
        Assert.False(buffer.IsDisposed);
        buffer.Dispose();
        Assert.True(buffer.IsDisposed);
        buffer.Dispose(); // idempotent
        var read = Assert.Throws<ObjectDisposedException>(() => backend.ToArray(view));
        Assert.Equal("source", read.ObjectName);
        var write = Assert.Throws<ObjectDisposedException>(() => backend.Upload([5f, 6f, 7f, 8f], view));
        Assert.Equal("destination", write.ObjectName);
        Assert.Equal("x", Assert.Throws<ObjectDisposedException>(() => backend.Fill(view.Slice(1, 2), 0f)).ObjectName); // a kernel too
    }

    [Fact]
    public void Arena_settles_into_one_block_and_then_allocates_nothing()
    {
        using var cpu = new CpuBackend<float>();
        using var arena = new Arena<float>(cpu);
        void Step()
        {
            var a = arena.Take(1000);
            var b = arena.Take(5000);
            var c = arena.Take(3);
            Assert.Equal(0, a.Offset % Arena<float>.Alignment);
            Assert.Equal(0, c.Offset % Arena<float>.Alignment);
            Assert.NotEqual(a.Buffer!.Slice(a.Offset, 1), b.Buffer!.Slice(b.Offset, 1)); // distinct
        }
        Step();
        arena.Reset();
        int settled = arena.Allocations;
        for (int i = 0; i < 5; i++) { Step(); arena.Reset(); }
        Assert.Equal(settled, arena.Allocations);
        Assert.Equal(1008 + 5008 + 16, arena.HighWater);
    }

    [Fact]
    public void Flat_parameters_lay_out_views_in_order_with_segment_offsets()
    {
        using var cpu = new CpuBackend<float>();
        using var flat = new FlatParameters<float>(cpu);
        var w = flat.Add("layer.weight", 3, 2);
        var b = flat.Add("layer.bias", 3);
        Assert.Throws<ArgumentException>(() => flat.Add("layer.bias", 1));
        Assert.Throws<ArgumentException>(() => flat.Add("bad", 0, 2));
        flat.Allocate();
        Assert.Equal(9, flat.Count);
        Assert.Equal((0, 6), (w.Offset, w.Length));
        Assert.Equal((6, 3), (b.Offset, b.Length));
        Assert.Equal([0, 6, 9], cpu.ToArray(flat.SegmentOffsets));
        Assert.Equal(6, flat.GradientsOf(b).Offset);
        Assert.Throws<InvalidOperationException>(() => flat.Add("late", 1));
    }

    [Fact]
    public void Device_names_resolve_and_unknown_names_are_rejected()
    {
        using (var cpu = Device.Create("cpu")) Assert.Equal(BackendKind.Cpu, cpu.Info.Kind);
        var error = Assert.Throws<ArgumentException>(() => Device.Create("tpu"));
        Assert.Equal("name", error.ParamName);
        Assert.Contains("Unknown device 'tpu'", error.Message);
        foreach (var name in Device.Names) Assert.Contains(name, error.Message);
        // What each named device reports, and Device.Describe(): DeviceTests.
    }
}
