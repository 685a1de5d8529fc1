using Engine.Tests.Infrastructure;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Tests.Autodiff;

/// <summary>How the tape behaves: no-gradient mode, memory reuse, bad input, and the gradient checker itself.</summary>
public class TapeTests
{
    [Fact]
    public void No_grad_mode_records_nothing_and_computes_the_same_values()
    {
        using var net = new MultiTaskNet<double>(new LoopBackend<double>());
        using var tape = new Tape<double>(net.Backend);
        var recorded = net.Forward(tape);
        int recordedOps = tape.Count;
        double expected = net.Backend.Read(recorded.Total.Data);

        tape.Reset();
        using (tape.NoGrad())
        {
            Assert.False(tape.IsRecording);
            var evaluated = net.Forward(tape);
            Assert.Equal(0, tape.Count);
            Assert.False(evaluated.Total.RequiresGrad);
            Assert.Equal(expected, net.Backend.Read(evaluated.Total.Data));
            Assert.Throws<InvalidOperationException>(() => tape.Backward(evaluated.Total));
        }
        Assert.True(tape.IsRecording);
        Assert.Equal(4 + 1 + 1 + 1, recordedOps); // 4 linear layers, MSE, cross-entropy, weighted sum
    }

    [Fact]
    public void A_warm_step_allocates_nothing_managed_and_nothing_on_the_device()
    {
        // The loop backend's kernels allocate nothing, so whatever is allocated comes from the autodiff.
        using var net = new MultiTaskNet<double>(new LoopBackend<double>());
        using var tape = new Tape<double>(net.Backend);
        var trunk = net.Trunk.Parameters;
        using var perTask = net.Backend.Allocate<double>(2 * trunk.Length);
        void Step()
        {
            tape.Reset();
            var (regression, classification, total) = net.Forward(tape);
            tape.Backward(regression, trunk, perTask.Slice(0, trunk.Length), net.Weights.Data.Slice(0, 1));
            tape.Backward(classification, trunk, perTask.Slice(trunk.Length, trunk.Length), net.Weights.Data.Slice(1, 1));
            tape.Backward(total);
            using (tape.NoGrad()) net.Forward(tape);
        }
        Step();
        Step();
        int deviceAllocations = tape.Arena.Allocations;
        WarmAllocations.AssertNone(() => { for (int i = 0; i < 5; i++) Step(); });
        Assert.Equal(deviceAllocations, tape.Arena.Allocations);
    }

    [Fact]
    public void Bad_shapes_and_labels_are_rejected_naming_the_operand()
    {
        var backend = new LoopBackend<double>();
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var x = leaves.Random("x", 3, 4, seed: 1);
        var w = leaves.Random("w", 2, 5, seed: 2);
        var error = Assert.Throws<ArgumentException>(() => tape.Linear(x, w));
        Assert.Contains("w", error.Message);
        Assert.Contains("5 input features", error.Message);

        var bias = leaves.Random("b", 1, 3, seed: 3);
        Assert.Contains("b [1×3]", Assert.Throws<ArgumentException>(() => tape.Linear(x, leaves.Random("w2", 2, 4, 4), bias)).Message);
        Assert.Contains("same shape", Assert.Throws<ArgumentException>(() => tape.Add(x, leaves.Random("y", 4, 3, 5))).Message);
        Assert.Contains("target", Assert.Throws<ArgumentException>(() => tape.Mse(x, leaves.Random("target", 3, 3, 6))).Message);
        Assert.Contains("2 labels", Assert.Throws<ArgumentException>(() => tape.SoftmaxCrossEntropy(x, leaves.Labels([0, 1], 4))).Message);
        var range = Assert.Throws<ArgumentOutOfRangeException>(() => leaves.Labels([0, 4, 1], classes: 4));
        Assert.Contains("labels[1] = 4", range.Message);
        Assert.Throws<ArgumentOutOfRangeException>(() => leaves.Labels([-1], classes: 4));

        var scalar = tape.Sum(x);
        var weights = leaves.Make("weights", 1, 3, [1, 2, 3]);
        Assert.Contains("3 weights for 2 losses", Assert.Throws<ArgumentException>(() => tape.WeightedSum(weights, scalar, scalar)).Message);
        Assert.Contains("not a scalar", Assert.Throws<ArgumentException>(() => tape.WeightedSum(weights, scalar, scalar, x)).Message);
    }

    [Fact]
    public void Backward_needs_a_recorded_root_and_a_seed_for_non_scalar_roots()
    {
        var backend = new LoopBackend<double>();
        using var leaves = new Leaves<double>(backend);
        using var tape = new Tape<double>(backend);
        var x = leaves.Random("x", 3, 4, seed: 1);
        Assert.Contains("root", Assert.Throws<InvalidOperationException>(() => tape.Backward(x)).Message);
        var y = tape.Tanh(x);
        Assert.Contains("needs a seed of 12", Assert.Throws<ArgumentException>(() => tape.Backward(y)).Message);
        Assert.Contains("seed", Assert.Throws<ArgumentException>(() => tape.Backward(y, tape.One)).Message);
        var noGrad = leaves.Random("c", 3, 4, seed: 2, requiresGrad: false);
        Assert.Throws<InvalidOperationException>(() => tape.Backward(tape.Sum(noGrad)));
        Assert.Equal(1, tape.Count); // tanh only: the sum of a constant was not recorded
    }

    [Fact]
    public void Parameter_groups_must_be_contiguous_and_route_gradients_back_home()
    {
        var backend = new LoopBackend<double>();
        using var flat = new FlatParameters<double>(backend);
        var first = new Dense<double>(flat, "a", 2, 3);
        var middle = new Dense<double>(flat, "b", 3, 3);
        var last = new Dense<double>(flat, "c", 3, 1);
        flat.Allocate();
        var error = Assert.Throws<ArgumentException>(() => new ParameterGroup<double>(first.Parameters.Concat(last.Parameters)));
        Assert.Contains("contiguous", error.Message);

        var group = new ParameterGroup<double>(first.Parameters.Concat(middle.Parameters));
        Assert.Equal((0, 6 + 3 + 9 + 3), (group.Offset, group.Length));
        using var target = backend.Allocate<double>(group.Length);
        Assert.Throws<ArgumentException>(() => group.RouteGradients(target.Slice(0, 5)));
        group.RouteGradients(target.View);
        Assert.Equal(target.Slice(9, 9), middle.Weight.Grad);
        group.RestoreGradients();
        Assert.Equal(flat.GradientsOf(middle.WeightSlot), middle.Weight.Grad);
    }

    [Fact]
    public void Gradient_check_reports_a_wrong_gradient_and_where_it_is()
    {
        var backend = new LoopBackend<double>();
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 2, 3, seed: 1);
        var y = leaves.Random("y", 2, 3, seed: 2);
        using var hidden = backend.Allocate<double>(6);
        // y reaches the output behind the tape's back (copied into a constant input): the analytic gradient of
        // y is zero, the numeric one is not, and the check must say so and point at y.
        var result = GradCheck.Run(backend, tape =>
        {
            backend.Copy(y.Data, hidden.View);
            return tape.Sum(tape.Add(tape.Tanh(x), tape.Input(hidden.View, 2, 3)));
        }, [x, y]);
        Assert.False(result.Passed);
        Assert.Equal(12, result.Checked);
        Assert.StartsWith("y[", result.MaxAbsoluteAt);
        Assert.Equal(1.0, result.MaxAbsoluteError, 1e-6);
        Assert.Equal(1.0, result.MaxRelativeError, 1e-9);
        Assert.Contains("analytic 0", result.WorstAt);
    }
}
