using Engine.Kernels;
using Engine.Kernels.Ilgpu;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Optimizers;

namespace Engine.Tests.Kernels;

/// <summary>
/// The streaming (128-bit, grid-stride) kernels: the head/float4/tail split of <see cref="StreamLayout"/> against
/// hand-counted cases, the alignment claim that makes every optimizer launch take the 128-bit path, and the fused
/// optimizers at every alignment phase (head of 0–3 scalars, a tail, the all-scalar fallback for views that do not
/// share a phase) and at sizes where each thread of ILGPU's CPU accelerator loops over several float4 (grid stride),
/// against the unfused float64 reference of Tests/Optimizers/AdamReference.cs.
/// </summary>
public class StreamingTests
{
    [Theory]
    [InlineData(10, new[] { 0, 0 }, 0, 2, 8)]   // aligned: 2 float4, tail of 2
    [InlineData(10, new[] { 5, 5, 5 }, 3, 1, 7)] // offset 5: 3 scalars to reach 8, 1 float4 (8…11 of the buffer), tail of 3
    [InlineData(2, new[] { 1 }, 2, 0, 2)]        // shorter than the head: all head
    [InlineData(9, new[] { 7, 3 }, 1, 2, 9)]     // same phase (3): head 1, 2 float4, no tail
    [InlineData(9, new[] { 0, 1 }, 0, 0, 0)]     // different phases: no float4, the whole range is the scalar tail
    public void Layout_splits_a_range_into_head_float4_and_tail(int length, int[] offsets, int head, int vectors, int tailStart)
    {
        var layout = StreamLayout.Of(length, offsets);
        Assert.Equal((head, vectors, tailStart, length), (layout.Head, layout.Vectors, layout.TailStart, layout.Length));
        Assert.Equal(length, layout.Head + 4 * layout.Vectors + (length - layout.TailStart));
    }

    [Fact]
    public void Flat_parameters_gradients_and_adam_state_share_one_phase_so_every_launch_is_128_bit()
    {
        // Odd parameter sizes and a group starting at element 13: the views of one launch still share the phase 13 mod 4,
        // because each buffer (values, gradients, m, v, vMax) is its own allocation laid out like the flat parameters.
        using var model = new TestModel<float>(TestDevices.Get(TestDevices.Cpu), 13, 1, 26);
        var head = new ParameterGroup("head", ["p1", "p2"]) { LearningRate = 0.1 };
        using var adam = new Adam<float>(model.Backend, model.Parameters, new AdamOptions { LearningRate = 0.01, AmsGrad = true, Groups = [head] });
        View<float>[] buffers = [model.Parameters.Values, model.Parameters.Gradients, adam.FirstMoment, adam.SecondMoment, adam.MaxSecondMoment];
        Assert.All(buffers, view => Assert.Equal(0, view.Offset));
        foreach (var group in adam.Groups)
            foreach (var (offset, length) in group.Ranges)
            {
                var layout = StreamLayout.Of(length, [.. buffers.Select(b => b.Slice(offset, length).Offset)]);
                Assert.Equal(Math.Min(length, (4 - offset % 4) % 4), layout.Head);
                Assert.Equal((length - layout.Head) / 4, layout.Vectors);
            }
    }

    public static TheoryData<string, int, int, bool> AdamCases()
    {
        var data = new TheoryData<string, int, int, bool>();
        foreach (var device in TestDevices.Float32)
            foreach (int phase in new[] { 0, 1, 2, 3, -1 }) // -1: m and v start one element later than θ and g
                foreach (bool ams in new[] { false, true })
                    data.Add(device.Data, phase, 40_003, ams);
        return data;
    }

    [Theory]
    [MemberData(nameof(AdamCases))]
    public void Adam_at_every_alignment_phase_matches_the_float64_reference(string device, int phase, int n, bool amsGrad)
    {
        // Tolerance: 3 float32 steps on θ ~ 1 with lr = 1e-2 (as AdamTests): rtol 1e-5, atol 1e-6.
        var backend = TestDevices.Get(device);
        int offset = phase < 0 ? 1 : phase, stateOffset = phase < 0 ? 2 : phase;
        var config = new Reference.AdamConfig(Wd: 0.05, Decoupled: true, AmsGrad: amsGrad);
        var settings = new AdamSettings(config.Lr, config.Beta1, config.Beta2, config.Eps, config.Wd, config.Decoupled, amsGrad);
        var theta = TestModel<float>.Rounded(Tolerance.Random(n, seed: 11));
        var state = new Reference.AdamState(n);
        using var p = Buffer(backend, n + 4, offset, theta, out var pv);
        using var g = Buffer(backend, n + 4, offset, new double[n], out var gv);
        using var m = Buffer(backend, n + 4, stateOffset, new double[n], out var mv);
        using var v = Buffer(backend, n + 4, stateOffset, new double[n], out var vv);
        using var x = Buffer(backend, n + 4, stateOffset, new double[n], out var xv);
        using var control = backend.Allocate<float>(StepControl.Length);
        for (int step = 1; step <= 3; step++)
        {
            var grad = TestModel<float>.Rounded(Tolerance.Random(n, seed: 20 + step, lo: -3, hi: 3));
            backend.Upload<float>(Tolerance.ToFloat(grad), gv);
            backend.Upload<float>([0.5f, 0f, step, float.NaN, 0f], control.View); // scale ½, not skipped, t = step
            backend.AdamStep(pv, gv, mv, vv, amsGrad ? xv : default, settings, control.View);
            Reference.AdamStep(theta, grad, state, config, scale: 0.5);
        }
        Tolerance.AllClose(theta, backend.ToArray(pv), 1e-5, 1e-6, $"θ on {device}");
        Tolerance.AllClose(state.M, backend.ToArray(mv), 1e-5, 1e-7, $"m on {device}");
        if (amsGrad) Tolerance.AllClose(state.VMax, backend.ToArray(xv), 1e-4, 1e-9, $"vMax on {device}");
        // Nothing outside the views was written (the head and tail stay inside the range).
        Assert.All(backend.ToArray(p.View)[..offset], value => Assert.Equal(0f, value));
        Assert.All(backend.ToArray(p.View)[(offset + n)..], value => Assert.Equal(0f, value));
    }

    public static TheoryData<string, int> SgdCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in TestDevices.Float32)
            foreach (int phase in new[] { 0, 3, -1 })
                data.Add(device.Data, phase);
        return data;
    }

    [Theory]
    [MemberData(nameof(SgdCases))]
    public void Sgd_with_momentum_at_every_alignment_phase_matches_the_float64_reference(string device, int phase)
    {
        // Tolerance: 3 float32 steps of size ~lr·|g| on θ ~ 1 (as SgdTests): rtol 1e-5, atol 1e-6.
        var backend = TestDevices.Get(device);
        int n = 40_001, offset = phase < 0 ? 2 : phase, bufferOffset = phase < 0 ? 1 : phase;
        var config = new Reference.SgdConfig(Lr: 0.05, Momentum: 0.9, Dampening: 0.1, Wd: 0.01);
        var settings = new SgdSettings(config.Lr, config.Momentum, config.Dampening, config.Wd);
        var theta = TestModel<float>.Rounded(Tolerance.Random(n, seed: 5));
        var buffer = new double[n];
        bool started = false;
        using var p = Buffer(backend, n + 4, offset, theta, out var pv);
        using var g = Buffer(backend, n + 4, offset, new double[n], out var gv);
        using var b = Buffer(backend, n + 4, bufferOffset, new double[n], out var bv);
        using var control = backend.Allocate<float>(StepControl.Length);
        for (int step = 1; step <= 3; step++)
        {
            var grad = TestModel<float>.Rounded(Tolerance.Random(n, seed: 40 + step));
            backend.Upload<float>(Tolerance.ToFloat(grad), gv);
            backend.Upload<float>([1f, 0f, step, float.NaN, 0f], control.View);
            backend.SgdStep(pv, gv, bv, settings, control.View);
            Reference.SgdStep(theta, grad, buffer, ref started, config);
        }
        Tolerance.AllClose(theta, backend.ToArray(pv), 1e-5, 1e-6, $"θ on {device}");
        Tolerance.AllClose(buffer, backend.ToArray(bv), 1e-5, 1e-6, $"momentum buffer on {device}");
    }

    public static TheoryData<string, int, bool, bool> RmsPropCases()
    {
        var data = new TheoryData<string, int, bool, bool>();
        foreach (var device in TestDevices.Float32)
            foreach (int phase in new[] { 0, 1, 3, -1 })
                foreach (var (centered, momentum) in new[] { (false, false), (true, true), (true, false), (false, true) })
                    data.Add(device.Data, phase, centered, momentum);
        return data;
    }

    [Theory]
    [MemberData(nameof(RmsPropCases))]
    public void RmsProp_at_every_alignment_phase_matches_the_float64_reference(string device, int phase, bool centered, bool momentum)
    {
        // Tolerance: 3 float32 steps of up to lr/√(1−α) ≈ 0.1 on θ ~ 1 (as RmsPropTests): rtol 1e-5, atol 1e-6.
        var backend = TestDevices.Get(device);
        int n = 40_002, offset = phase < 0 ? 1 : phase, stateOffset = phase < 0 ? 2 : phase;
        var settings = new RmsPropSettings(0.01, Alpha: 0.9, WeightDecay: 0.05, Momentum: momentum ? 0.9 : 0, Centered: centered);
        var theta = TestModel<float>.Rounded(Tolerance.Random(n, seed: 12));
        var state = new RmsPropReference.State(n);
        using var p = Buffer(backend, n + 4, offset, theta, out var pv);
        using var g = Buffer(backend, n + 4, offset, new double[n], out var gv);
        using var v = Buffer(backend, n + 4, stateOffset, new double[n], out var vv);
        using var a = Buffer(backend, n + 4, stateOffset, new double[n], out var av);
        using var b = Buffer(backend, n + 4, stateOffset, new double[n], out var bv);
        using var control = backend.Allocate<float>(StepControl.Length);
        for (int step = 1; step <= 3; step++)
        {
            var grad = TestModel<float>.Rounded(Tolerance.Random(n, seed: 30 + step, lo: -3, hi: 3));
            backend.Upload<float>(Tolerance.ToFloat(grad), gv);
            backend.Upload<float>([0.5f, 0f, step, float.NaN, 0f], control.View); // scale ½, not skipped, t = step
            backend.RmsPropStep(pv, gv, vv, centered ? av : default, momentum ? bv : default, settings, control.View);
            RmsPropReference.Step(theta, grad, state, settings, scale: 0.5);
        }
        Tolerance.AllClose(theta, backend.ToArray(pv), 1e-5, 1e-6, $"θ on {device}");
        Tolerance.AllClose(state.SquareAverage, backend.ToArray(vv), 1e-5, 1e-9, $"v on {device}");
        if (centered) Tolerance.AllClose(state.GradientAverage, backend.ToArray(av), 1e-5, 1e-7, $"ḡ on {device}");
        else Assert.All(backend.ToArray(a.View), value => Assert.Equal(0f, value)); // a buffer that is off is not written
        if (momentum) Tolerance.AllClose(state.MomentumBuffer, backend.ToArray(bv), 1e-5, 1e-5, $"buf on {device}");
        else Assert.All(backend.ToArray(b.View), value => Assert.Equal(0f, value));
        Assert.All(backend.ToArray(p.View)[..offset], value => Assert.Equal(0f, value));
        Assert.All(backend.ToArray(p.View)[(offset + n)..], value => Assert.Equal(0f, value));
    }

    public static TheoryData<string, int> AdagradCases()
    {
        var data = new TheoryData<string, int>();
        foreach (var device in TestDevices.Float32)
            foreach (int phase in new[] { 0, 1, 3, -1 })
                data.Add(device.Data, phase);
        return data;
    }

    [Theory]
    [MemberData(nameof(AdagradCases))]
    public void Adagrad_at_every_alignment_phase_matches_the_float64_reference(string device, int phase)
    {
        // Tolerance: 3 float32 steps of up to lr = 0.05 on θ ~ 1 (as AdagradTests): rtol 1e-5, atol 1e-6; s: rtol 1e-5, atol 1e-9.
        var backend = TestDevices.Get(device);
        int n = 40_002, offset = phase < 0 ? 1 : phase, stateOffset = phase < 0 ? 2 : phase;
        var settings = new AdagradSettings(0.05, LearningRateDecay: 0.1, WeightDecay: 0.05);
        var theta = TestModel<float>.Rounded(Tolerance.Random(n, seed: 12));
        var sum = new double[n];
        using var p = Buffer(backend, n + 4, offset, theta, out var pv);
        using var g = Buffer(backend, n + 4, offset, new double[n], out var gv);
        using var s = Buffer(backend, n + 4, stateOffset, new double[n], out var sv);
        using var control = backend.Allocate<float>(StepControl.Length);
        for (int step = 1; step <= 3; step++)
        {
            var grad = TestModel<float>.Rounded(Tolerance.Random(n, seed: 30 + step, lo: -3, hi: 3));
            backend.Upload<float>(Tolerance.ToFloat(grad), gv);
            backend.Upload<float>([0.5f, 0f, step, float.NaN, 0f], control.View); // scale ½, not skipped, t = step
            backend.AdagradStep(pv, gv, sv, settings, control.View);
            AdagradReference.Step(theta, grad, sum, step, settings, scale: 0.5);
        }
        Tolerance.AllClose(theta, backend.ToArray(pv), 1e-5, 1e-6, $"θ on {device}");
        Tolerance.AllClose(sum, backend.ToArray(sv), 1e-5, 1e-9, $"s on {device}");
        Assert.All(backend.ToArray(p.View)[..offset], value => Assert.Equal(0f, value));
        Assert.All(backend.ToArray(p.View)[(offset + n)..], value => Assert.Equal(0f, value));
    }

    /// <summary>A zeroed buffer of <paramref name="size"/> floats with <paramref name="values"/> uploaded at
    /// <paramref name="offset"/>; <paramref name="view"/> is that window.</summary>
    private static DeviceBuffer<float> Buffer(Backend<float> backend, int size, int offset, double[] values, out View<float> view)
    {
        var buffer = backend.Allocate<float>(new float[size]);
        view = buffer.View.Slice(offset, values.Length);
        backend.Upload<float>(Tolerance.ToFloat(values), view);
        return buffer;
    }
}
