using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// <see cref="Tape{T}.BackwardPerTask"/> (all tasks through the trunk at once, the T upstream gradients stacked
/// into one [T·batch × width] matrix) against the definition it replaces: one routed
/// <see cref="Tape{T}.Backward(Tensor{T}, ParameterGroup{T}, View{T}, View{T})"/> per task, in float64.
/// </summary>
public class PerTaskBackwardTests
{
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Stacked_trunk_pass_equals_one_routed_backward_per_task(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new ThreeTaskNet<double>(backend);
        var expected = net.SeparatePasses();
        var actual = net.StackedPass(prefillRows: 0);

        Tolerance.AllClose(expected.Rows, actual.Rows, 1e-12, 1e-14, "per-task trunk rows");
        Tolerance.AllClose(expected.Flat, actual.Flat, 1e-12, 1e-14, "flat gradients (heads; the trunk window untouched)");
        Tolerance.AllClose(expected.Input, actual.Input, 1e-12, 1e-14, "input gradient (sum over tasks)");
        // Not trivially equal: every row and every head got a non-zero gradient, and the rows differ.
        int shared = net.Trunk.Parameters.Length;
        for (int t = 0; t < ThreeTaskNet<double>.Tasks; t++)
            Assert.Contains(actual.Rows.AsSpan(t * shared, shared).ToArray(), g => g != 0);
        Assert.NotEqual(actual.Rows[..shared], actual.Rows[shared..(2 * shared)]);
        Assert.All(actual.Flat[..shared], g => Assert.Equal(0.0, g));
        Assert.Contains(actual.Flat[shared..], g => g != 0);
        Assert.Contains(actual.Input, g => g != 0);
    }

    [Fact]
    public void Rows_are_overwritten_so_stale_values_and_NaN_do_not_leak_in()
    {
        using var net = new ThreeTaskNet<double>(TestDevices.Reference);
        var clean = net.StackedPass(prefillRows: 0);
        var dirty = net.StackedPass(prefillRows: double.NaN);
        var bad = Enumerable.Range(0, dirty.Rows.Length).Where(i => double.IsNaN(dirty.Rows[i])).ToArray();
        Assert.True(bad.Length == 0, $"NaN at {string.Join(",", bad)} of {dirty.Rows.Length}");
        Assert.Equal(clean.Rows, dirty.Rows);
    }

    [Fact]
    public void Sum_of_the_rows_equals_a_plain_backward_of_the_weighted_sum_over_the_same_forward()
    {
        using var net = new ThreeTaskNet<double>(TestDevices.Reference);
        var backend = net.Backend;
        int shared = net.Trunk.Parameters.Length, tasks = ThreeTaskNet<double>.Tasks;
        using var tape = new Tape<double>(backend);
        using var rows = backend.Allocate<double>(tasks * shared);
        var (losses, z) = net.Forward(tape);
        tape.BackwardPerTask(losses, z, net.Trunk.Parameters, rows.View, net.Weights);
        var stackedRows = backend.ToArray(rows.View);

        // A plain pass of Σ wᵢLᵢ afterwards, over the same recorded forward, into a zeroed flat buffer.
        var total = tape.WeightedSum(net.WeightTensor, losses);
        backend.Fill(net.Parameters.Gradients, 0);
        tape.Backward(total);
        var whole = backend.ToArray(net.Parameters.Gradients);
        var sum = new double[shared];
        for (int t = 0; t < tasks; t++)
            for (int j = 0; j < shared; j++) sum[j] += stackedRows[t * shared + j];
        Tolerance.AllClose(whole[..shared], sum, 1e-12, 1e-14, "trunk gradient of the weighted sum");
    }

    /// <summary>float32 devices (stacked pass) against float64 (separate passes) on identical parameters and
    /// inputs. Tolerance rtol 1e-4, atol 1e-5: three GEMMs deep with inner dimensions ≤ 8, as the other
    /// float32 autodiff parity tests.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_stacked_pass_matches_float64_separate_passes(string device)
    {
        var backend = TestDevices.Get(device);
        double[] parameters;
        using (var probe = new ThreeTaskNet<double>(TestDevices.Reference))
            parameters = Array.ConvertAll(probe.ParameterValues(), v => (double)(float)v);
        using var reference = new ThreeTaskNet<double>(TestDevices.Reference, parameters, roundInputs: true);
        using var net = new ThreeTaskNet<float>(backend, parameters);
        var expected = reference.SeparatePasses();
        var actual = net.StackedPass(prefillRows: 0);
        Tolerance.AllClose(expected.Rows, actual.Rows, 1e-4, 1e-5, $"{device} per-task rows");
        Tolerance.AllClose(expected.Flat, actual.Flat, 1e-4, 1e-5, $"{device} flat gradients");
        Tolerance.AllClose(expected.Input, actual.Input, 1e-4, 1e-5, $"{device} input gradient");
    }

    [Fact]
    public void A_warm_stacked_step_allocates_nothing()
    {
        using var net = new ThreeTaskNet<double>(new LoopBackend<double>());
        var backend = net.Backend;
        using var tape = new Tape<double>(backend);
        using var rows = backend.Allocate<double>(ThreeTaskNet<double>.Tasks * net.Trunk.Parameters.Length);
        var losses = new Tensor<double>[ThreeTaskNet<double>.Tasks];
        void Step()
        {
            tape.Reset();
            var z = net.Forward(tape, losses);
            tape.BackwardPerTask(losses, z, net.Trunk.Parameters, rows.View, net.Weights);
        }
        Step();
        Step();
        int deviceAllocations = tape.Arena.Allocations;
        WarmAllocations.AssertNone(() => { Step(); });
        Assert.Equal(deviceAllocations, tape.Arena.Allocations);
    }

    [Fact]
    public void A_warm_stacked_step_on_the_cpu_allocates_nothing_even_right_after_a_full_collection()
    {
        // The float32 SIMD path (GEMM with fused ReLU, the chunked kernels). A full GC used to cost the next step
        // ≈250 bytes: Enum.IsDefined rebuilds a weakly held runtime cache (replaced by Check.IsDefined).
        using var net = new ThreeTaskNet<float>(TestDevices.Get(TestDevices.Cpu));
        var backend = net.Backend;
        using var tape = new Tape<float>(backend);
        using var rows = backend.Allocate<float>(ThreeTaskNet<float>.Tasks * net.Trunk.Parameters.Length);
        var losses = new Tensor<float>[ThreeTaskNet<float>.Tasks];
        void Step()
        {
            tape.Reset();
            var z = net.Forward(tape, losses);
            tape.BackwardPerTask(losses, z, net.Trunk.Parameters, rows.View, net.Weights);
        }
        Step();
        Step();
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        WarmAllocations.AssertNone(() => { Step(); });
    }

    [Fact]
    public void Bad_arguments_name_the_operand()
    {
        using var net = new ThreeTaskNet<double>(TestDevices.Reference);
        var backend = net.Backend;
        int shared = net.Trunk.Parameters.Length, tasks = ThreeTaskNet<double>.Tasks;
        using var tape = new Tape<double>(backend);
        using var rows = backend.Allocate<double>(tasks * shared);
        var (losses, z) = net.Forward(tape);
        var group = net.Trunk.Parameters;

        var wrongRows = Assert.Throws<ArgumentException>(() => tape.BackwardPerTask(losses, z, group, rows.Slice(0, shared)));
        Assert.Equal("perTaskGradients", wrongRows.ParamName);
        var wrongSeeds = Assert.Throws<ArgumentException>(() => tape.BackwardPerTask(losses, z, group, rows.View, net.Weights.Slice(0, 2)));
        Assert.Equal("seeds", wrongSeeds.ParamName);
        var notRecorded = Assert.Throws<ArgumentException>(() => tape.BackwardPerTask(losses, net.X, group, rows.View));
        Assert.Equal("shared", notRecorded.ParamName);
        var notScalar = Assert.Throws<ArgumentException>(() => tape.BackwardPerTask([losses[0], z], z, group, rows.Slice(0, 2 * shared)));
        Assert.Equal("roots", notScalar.ParamName);
        Assert.Throws<ArgumentOutOfRangeException>(() => tape.BackwardPerTask([], z, group, default));
    }

    [Fact]
    public void A_trunk_op_without_a_stacked_backward_is_refused_and_a_second_path_into_the_trunk_is_detected()
    {
        using var net = new ThreeTaskNet<double>(TestDevices.Reference);
        var backend = net.Backend;
        int shared = net.Trunk.Parameters.Length;
        using var tape = new Tape<double>(backend);
        using var rows = backend.Allocate<double>(shared);
        var group = net.Trunk.Parameters;

        // An Add inside the trunk: refused with a message that says what to do instead.
        var h = net.Trunk.Forward(tape, net.X);
        var doubled = tape.Add(h, h);
        var loss = tape.Mse(net.Heads[0].Forward(tape, doubled), net.Targets[0]);
        var unsupported = Assert.Throws<NotSupportedException>(() => tape.BackwardPerTask([loss], doubled, group, rows.View));
        Assert.Contains("Add", unsupported.Message);

        // A head that also reads an earlier trunk activation: the trunk output is not the only way in.
        tape.Reset();
        var h0 = tape.Linear(net.X, net.Trunk.Dense(0).Weight, net.Trunk.Dense(0).Bias, Activation.Relu);
        var z = tape.Linear(h0, net.Trunk.Dense(1).Weight, net.Trunk.Dense(1).Bias, Activation.Identity);
        var bypass = tape.Mse(net.Heads[0].Forward(tape, tape.Add(z, tape.Linear(h0, net.Trunk.Dense(1).Weight))), net.Targets[0]);
        Assert.Throws<InvalidOperationException>(() => tape.BackwardPerTask([bypass], z, group, rows.View));
    }
}

/// <summary>
/// Three tasks on one trunk: x [7 × 5] → Linear(8)+ReLU → Linear(6) → tanh (a separate activation op, so both
/// stacked ops are exercised) = z; heads: regression 6 → 2 (MSE), classification 6 → 3 (cross-entropy),
/// regression 6 → 1 (MSE). The input requires a gradient (a leaf outside the trunk's group, which must receive
/// the sum over the tasks). Task weights 0.6, 1.4, 0.9 are the seeds.
/// </summary>
internal sealed class ThreeTaskNet<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    public const int Tasks = 3, Batch = 7, Features = 5;
    private readonly Leaves<T> _leaves;
    private readonly DeviceBuffer<T> _weights;

    public readonly Backend<T> Backend;
    public readonly FlatParameters<T> Parameters;
    public readonly Sequential<T> Trunk;
    public readonly Dense<T>[] Heads;
    public readonly Tensor<T> X, WeightTensor;
    /// <summary>Regression targets of task 0 [7 × 2] and task 2 [7 × 1] (task 1 has labels).</summary>
    public readonly Tensor<T>[] Targets;
    public readonly Labels Labels;

    public ThreeTaskNet(Backend<T> backend, double[]? parameterValues = null, bool roundInputs = false)
    {
        Backend = backend;
        Parameters = new FlatParameters<T>(backend);
        Trunk = Sequential<T>.Mlp(Parameters, "trunk", Features, [8, 6], Activation.Relu, Activation.Identity);
        Heads = [new(Parameters, "head.0", 6, 2), new(Parameters, "head.1", 6, 3), new(Parameters, "head.2", 6, 1)];
        Parameters.Allocate();
        if (parameterValues is null)
        {
            Trunk.Initialize(Initializer.KaimingUniform, seed: 5);
            for (int i = 0; i < Heads.Length; i++) Heads[i].Initialize(Initializer.XavierUniform, seed: 50 + (ulong)i);
            foreach (var layer in Trunk.Layers.Cast<Dense<T>>().Concat(Heads))
                Init.Upload(backend, Tolerance.Random(layer.Outputs, 200 + layer.Outputs, -0.3, 0.3), layer.Bias!.Data);
        }
        else Init.Upload(backend, parameterValues, Parameters.Values);
        backend.Fill(Parameters.Gradients, T.Zero);

        double[] Round(double[] v) => roundInputs ? Array.ConvertAll(v, x => (double)(float)x) : v;
        _leaves = new Leaves<T>(backend);
        X = _leaves.Make("x", Batch, Features, Round(Tolerance.Random(Batch * Features, 17, -2, 2)));
        Targets =
        [
            _leaves.Make("target.0", Batch, 2, Round(Tolerance.Random(Batch * 2, 18)), requiresGrad: false),
            _leaves.Make("target.2", Batch, 1, Round(Tolerance.Random(Batch, 19)), requiresGrad: false),
        ];
        Labels = _leaves.Labels([2, 0, 1, 1, 0, 2, 2], 3);
        _weights = backend.Allocate<T>(Tasks);
        Init.Upload(backend, Round([0.6, 1.4, 0.9]), _weights.View);
        WeightTensor = new Tensor<T>(_weights.View, 1, Tasks, name: "task_weights");
    }

    /// <summary>The task weights as a device vector (the seeds).</summary>
    public View<T> Weights => _weights.View;

    /// <summary>Records the forward; returns the three task losses and the trunk output z.</summary>
    public (Tensor<T>[] Losses, Tensor<T> Z) Forward(Tape<T> tape)
    {
        var losses = new Tensor<T>[Tasks];
        var z = Forward(tape, losses);
        return (losses, z);
    }

    /// <summary>Records the forward into <paramref name="losses"/> (no allocation); returns z.</summary>
    public Tensor<T> Forward(Tape<T> tape, Tensor<T>[] losses)
    {
        var z = tape.Tanh(Trunk.Forward(tape, X));
        losses[0] = tape.Mse(Heads[0].Forward(tape, z), Targets[0]);
        losses[1] = tape.SoftmaxCrossEntropy(Heads[1].Forward(tape, z), Labels);
        losses[2] = tape.Mse(Heads[2].Forward(tape, z), Targets[1]);
        return z;
    }

    /// <summary>The reference: one routed backward per task, seeded with its weight, rows zeroed first.</summary>
    public (double[] Rows, double[] Flat, double[] Input) SeparatePasses()
    {
        int shared = Trunk.Parameters.Length;
        using var tape = new Tape<T>(Backend);
        using var rows = Backend.Allocate<T>(Tasks * shared);
        Backend.Fill(rows.View, T.Zero);
        Backend.Fill(Parameters.Gradients, T.Zero);
        Backend.Fill(X.Grad, T.Zero);
        var (losses, _) = Forward(tape);
        for (int t = 0; t < Tasks; t++)
            tape.Backward(losses[t], Trunk.Parameters, rows.Slice(t * shared, shared), Weights.Slice(t, 1));
        return (ToDouble(Backend.ToArray(rows.View)), ParameterGradients(), ToDouble(Backend.ToArray(X.Grad)));
    }

    /// <summary>The stacked pass, with the rows first filled with <paramref name="prefillRows"/>.</summary>
    public (double[] Rows, double[] Flat, double[] Input) StackedPass(double prefillRows)
    {
        int shared = Trunk.Parameters.Length;
        using var tape = new Tape<T>(Backend);
        using var rows = Backend.Allocate<T>(Tasks * shared);
        Backend.Fill(rows.View, T.CreateChecked(prefillRows));
        Backend.Fill(Parameters.Gradients, T.Zero);
        Backend.Fill(X.Grad, T.Zero);
        var (losses, z) = Forward(tape);
        tape.BackwardPerTask(losses, z, Trunk.Parameters, rows.View, Weights);
        return (ToDouble(Backend.ToArray(rows.View)), ParameterGradients(), ToDouble(Backend.ToArray(X.Grad)));
    }

    public double[] ParameterValues() => ToDouble(Backend.ToArray(Parameters.Values));
    private double[] ParameterGradients() => ToDouble(Backend.ToArray(Parameters.Gradients));
    private static double[] ToDouble(T[] values) => Array.ConvertAll(values, double.CreateChecked);

    public void Dispose()
    {
        _weights.Dispose();
        _leaves.Dispose();
        Parameters.Dispose();
    }
}
