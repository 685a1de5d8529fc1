using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The whole multi-task network (<see cref="MultiTaskNet{T}"/>): gradient check of the weighted loss for every
/// input and parameter, per-task backward from separate roots, float64 paths against each other, and the
/// float32 devices against float64.
/// </summary>
public class MultiTaskGradientTests
{
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Whole_net_passes_the_gradient_check_for_every_input_and_parameter(string backendName)
    {
        using var net = new MultiTaskNet<double>(Float64Backends.Get(backendName));
        var wrt = net.AllParameters.Append(net.X).Append(net.Target).Append(net.Weights).ToList();
        var result = GradCheck.Run(net.Backend, tape => net.Forward(tape).Total, wrt);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(137 + 35 + 14 + 2, result.Checked);
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Each_task_loss_alone_passes_the_gradient_check(string backendName)
    {
        using var net = new MultiTaskNet<double>(Float64Backends.Get(backendName));
        var wrt = net.AllParameters.Append(net.X).ToList();
        var regression = GradCheck.Run(net.Backend, tape => net.Forward(tape).Regression, wrt);
        var classification = GradCheck.Run(net.Backend, tape => net.Forward(tape).Classification, wrt);
        Assert.True(regression.Passed, regression.ToString());
        Assert.True(classification.Passed, classification.ToString());
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Per_task_backward_from_separate_roots_equals_backward_of_the_sum_split_by_task(string backendName)
    {
        using var net = new MultiTaskNet<double>(Float64Backends.Get(backendName));
        var backend = net.Backend;
        var trunk = net.Trunk.Parameters;
        int shared = trunk.Length, total = net.Parameters.Count;
        using var perTask = backend.Allocate<double>(2 * shared);
        backend.Fill(perTask.View, 0);
        using var tape = new Tape<double>(backend);

        // One forward; task i's backward, seeded with its weight wᵢ read on the device, into row i.
        var (regression, classification, sum) = net.Forward(tape);
        tape.Backward(regression, trunk, perTask.Slice(0, shared), seed: net.Weights.Data.Slice(0, 1));
        var headsAfterRegression = net.ParameterGradients();
        tape.Backward(classification, trunk, perTask.Slice(shared, shared), seed: net.Weights.Data.Slice(1, 1));
        var rows = backend.ToArray(perTask.View);
        var heads = net.ParameterGradients();

        // The trunk's window of the flat gradient buffer was left alone: the rows took its gradients.
        Assert.All(heads[..shared], g => Assert.Equal(0.0, g));
        // The regression pass touched only the regression head; the classification head got its own pass.
        var regressionHead = net.Parameters["regression.weight"].Offset..net.Parameters["classification.weight"].Offset;
        var classificationHead = net.Parameters["classification.weight"].Offset..total;
        Assert.Contains(headsAfterRegression[regressionHead], g => g != 0);
        Assert.All(headsAfterRegression[classificationHead], g => Assert.Equal(0.0, g));
        Assert.Equal(headsAfterRegression[regressionHead], heads[regressionHead]);

        // Now the weighted sum over the same recorded forward, into the (zeroed) flat buffer.
        backend.Fill(net.Parameters.Gradients, 0);
        tape.Backward(sum);
        var whole = net.ParameterGradients();
        var split = new double[shared];
        for (int j = 0; j < shared; j++) split[j] = rows[j] + rows[shared + j];
        Tolerance.AllClose(whole[..shared], split, rtol: 1e-12, atol: 1e-14, "trunk gradient (sum of task rows)");
        Tolerance.AllClose(whole[shared..], heads[shared..], rtol: 1e-12, atol: 1e-14, "head gradients");

        // And each row really is that task's gradient alone: compare with a plain backward of wᵢ·Lᵢ.
        for (int task = 0; task < 2; task++)
        {
            backend.Fill(net.Parameters.Gradients, 0);
            tape.Backward(task == 0 ? regression : classification, net.Weights.Data.Slice(task, 1));
            Tolerance.AllClose(net.ParameterGradients()[..shared], rows.AsSpan(task * shared, shared), 1e-12, 1e-14, $"task {task} row");
        }
        Assert.Contains(rows[..shared], g => g != 0);
        Assert.Contains(rows[shared..], g => g != 0);
    }

    [Fact]
    public void Backward_twice_over_one_forward_doubles_leaf_gradients_exactly()
    {
        using var net = new MultiTaskNet<double>(new LoopBackend<double>());
        using var tape = new Tape<double>(net.Backend);
        var total = net.Forward(tape).Total;
        tape.Backward(total);
        var once = net.ParameterGradients();
        tape.Backward(total);
        var twice = net.ParameterGradients();
        // Leaves accumulate; activation gradients must be overwritten by each pass (else this would triple).
        Assert.Equal(once.Select(g => 2 * g), twice);
        Assert.Contains(once, g => g != 0);
    }

    [Fact]
    public void Cpu_float64_path_matches_naive_loops_for_losses_and_every_gradient()
    {
        var (lossesLoops, gradsLoops) = LossesAndGradients(new LoopBackend<double>(), null);
        var (lossesCpu, gradsCpu) = LossesAndGradients(TestDevices.Reference, null);
        Tolerance.AllClose(lossesLoops, lossesCpu, 1e-13, 1e-15, "losses");
        Tolerance.AllClose(gradsLoops, gradsCpu, 1e-11, 1e-14, "gradients");
    }

    /// <summary>
    /// float32 forward and backward (SIMD path, ILGPU's CPU accelerator, CUDA when present) against float64 on
    /// identical inputs and parameters (rounded to float32 first). Tolerance: rtol 1e-4, atol 1e-5 — the
    /// network is shallow (three GEMMs deep, inner dimensions ≤ 8), so float32's ε ≈ 6e-8 grows to ~1e-6 at
    /// worst; the margin covers reordered sums and the device's exp/tanh approximations.
    /// </summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Float32_losses_and_gradients_match_float64(string device)
    {
        var backend = TestDevices.Get(device);
        double[] parameters;
        using (var probe = new MultiTaskNet<double>(TestDevices.Reference))
            parameters = Array.ConvertAll(probe.ParameterValues(), v => (double)(float)v);
        var (expectedLosses, expectedGrads) = LossesAndGradients(TestDevices.Reference, parameters, roundInputs: true);
        var (losses, grads) = LossesAndGradients(backend, parameters);
        Tolerance.AllClose(expectedLosses, losses, 1e-4, 1e-5, $"{device} losses");
        Tolerance.AllClose(expectedGrads, grads, 1e-4, 1e-5, $"{device} gradients");
    }

    /// <summary>[L_reg, L_cls, L] and [parameter gradients…, x gradient…, weight gradients…] of one step.</summary>
    private static (double[] Losses, double[] Gradients) LossesAndGradients<T>(Backend<T> backend, double[]? parameters, bool roundInputs = false)
        where T : unmanaged, System.Numerics.IFloatingPointIeee754<T>
    {
        using var net = new MultiTaskNet<T>(backend, parameters);
        if (roundInputs)
            foreach (var leaf in new[] { net.X, net.Target, net.Weights })
                Init.Upload(backend, Array.ConvertAll(MultiTaskNet<T>.ToDouble(backend.ToArray(leaf.Data)), v => (double)(float)v), leaf.Data);
        using var tape = new Tape<T>(backend);
        var (regression, classification, total) = net.Forward(tape);
        tape.Backward(total);
        double[] losses = [.. new[] { regression, classification, total }.Select(l => double.CreateChecked(backend.Read(l.Data)))];
        var gradients = net.ParameterGradients()
            .Concat(MultiTaskNet<T>.ToDouble(backend.ToArray(net.X.Grad)))
            .Concat(MultiTaskNet<T>.ToDouble(backend.ToArray(net.Weights.Grad))).ToArray();
        return (losses, gradients);
    }
}
