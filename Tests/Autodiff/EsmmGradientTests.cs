using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// ESMM's per-task gradient split (docs/maths.md §17.6) on a small float64 model built from the tape's ops: a shared
/// trunk (4 → 6 ReLU), a CTR tower and output layer (6 → 5 ReLU → 1) and a CVR tower and output layer (6 → 5 ReLU → 1);
/// L_ctr = BCE-with-logits(z_ctr) (§19.3), L_ctcvr = BCE(σ(z_ctr)·σ(z_cvr)) on the probability (§19.7), pCVR with no loss.
/// Checked: each task's loss against float64 central differences w.r.t. every parameter group (torch's gradcheck
/// tolerances, atol 1e-5, rtol 1e-3, step 1e-6); which loss reaches which group (L_ctr's gradient of the CVR group is
/// exactly 0, every other pair non-zero), so the parameters more than one loss reaches are the trunk AND the CTR tower
/// and output layer; and that the stacked per-task backward (<see cref="Tape{T}.BackwardPerTaskThrough"/>) with the CTR
/// logit and the trunk's output as boundaries equals one routed backward per task (rtol 1e-12).
/// </summary>
public class EsmmGradientTests
{

    public static TheoryData<int> Tasks => new() { 0, 1 };

    [Theory]
    [MemberData(nameof(Tasks))]
    public void Each_task_loss_matches_central_differences_for_every_parameter_group(int task)
    {
        using var net = new EsmmNet(TestDevices.Reference);
        foreach (var (name, group) in net.Groups)
        {
            var result = GradCheck.Run(net.Backend, tape => net.Forward(tape).Losses[task], group.Parameters);
            Assert.True(result.Passed, $"task {task}, {name}: {result}");
            Assert.Equal(group.Length, result.Checked);
        }
    }

    [Fact]
    public void The_ctcvr_loss_reaches_both_towers_and_the_ctr_loss_only_its_own()
    {
        using var net = new EsmmNet(TestDevices.Reference);
        var norms = new double[2, 3];
        for (int task = 0; task < 2; task++)
        {
            using var tape = new Tape<double>(net.Backend);
            net.Backend.Fill(net.Parameters.Gradients, 0);
            tape.Backward(net.Forward(tape).Losses[task]);
            int g = 0;
            foreach (var (_, group) in net.Groups)
                norms[task, g++] = group.Parameters.Sum(p => net.Backend.ToArray(p.Grad).Sum(v => v * v));
        }
        Assert.True(norms[0, 0] > 1e-6 && norms[0, 1] > 1e-6, $"L_ctr reaches the trunk ({norms[0, 0]}) and its tower ({norms[0, 1]})");
        Assert.Equal(0.0, norms[0, 2]); // exactly: no op links L_ctr to the CVR tower
        for (int g = 0; g < 3; g++) Assert.True(norms[1, g] > 1e-6, $"L_ctcvr reaches group {g} ({norms[1, g]})");
    }

    [Fact]
    public void Stacked_per_task_backward_with_the_ctr_logit_as_a_boundary_equals_one_routed_pass_per_task()
    {
        using var net = new EsmmNet(TestDevices.Reference);
        var backend = net.Backend;
        var shared = net.Shared;
        int length = shared.Length;
        using var expectedRows = backend.Allocate<double>(2 * length);
        using var actualRows = backend.Allocate<double>(2 * length);

        backend.Fill(net.Parameters.Gradients, 0);
        backend.Fill(expectedRows.View, 0);
        using (var tape = new Tape<double>(backend))
        {
            var (losses, _, _) = net.Forward(tape);
            for (int t = 0; t < 2; t++) tape.Backward(losses[t], shared, expectedRows.Slice(t * length, length));
        }
        var expectedOwn = backend.ToArray(net.Parameters.Gradients).Skip(shared.Offset + length).ToArray();

        backend.Fill(net.Parameters.Gradients, 0);
        backend.Fill(actualRows.View, double.NaN); // overwritten
        using (var tape = new Tape<double>(backend))
        {
            var (losses, h, zCtr) = net.Forward(tape);
            tape.BackwardPerTaskThrough(losses, [zCtr, h], shared, actualRows.View);
        }
        var actualOwn = backend.ToArray(net.Parameters.Gradients).Skip(shared.Offset + length).ToArray();

        var expected = backend.ToArray(expectedRows.View);
        var actual = backend.ToArray(actualRows.View);
        Tolerance.AllClose(expected, actual, 1e-12, 1e-14, "per-task rows of the shared block (trunk + CTR tower/output)");
        Tolerance.AllClose(expectedOwn, actualOwn, 1e-12, 1e-14, "CVR tower/output gradient (the CTCVR loss's)");
        Assert.Contains(actual[..length], v => v != 0);
        Assert.Contains(actual[length..], v => v != 0);
        Assert.Contains(actualOwn, v => v != 0);
    }
}

/// <summary>The small ESMM model of <see cref="EsmmGradientTests"/> in float64, parameters named as MultiTaskModel names
/// them (trunk.0, towers.ctr.0, heads.ctr, towers.cvr.0, heads.cvr) and laid out in its order.</summary>
internal sealed class EsmmNet : IDisposable
{
    public const int Batch = 8, Features = 4, Missing = MissingLabel.Class;

    public readonly FlatParameters<double> Parameters;
    public readonly Sequential<double> Trunk, CtrTower, CvrTower;
    public readonly Dense<double> CtrHead, CvrHead;
    public readonly Leaves<double> Leaves;
    public readonly Tensor<double> X;
    public readonly Labels Click, Conversion;
    public readonly Backend<double> Backend;
    private readonly DeviceBuffer<int> _click, _conversion;

    /// <summary>Labels of <see cref="X"/>'s rows: click, and click-and-convert (1 only after a click); one of each missing.</summary>
    public static readonly int[] ClickLabels = [1, 0, 1, 1, 0, Missing, 1, 0], ConversionLabels = [1, 0, 0, 1, 0, 0, Missing, 0];

    /// <summary>The inputs [8 × 4].</summary>
    public static double[] Inputs => Tolerance.Random(Batch * Features, 77, -2, 2);

    public EsmmNet(Backend<double> backend, double[]? parameterValues = null)
    {
        Backend = backend;
        // Layout: what both losses reach first (trunk, CTR tower, CTR output layer: one contiguous shared block),
        // then the CVR tower and output layer, which only the CTCVR loss reaches.
        Parameters = new FlatParameters<double>(backend);
        Trunk = Sequential<double>.Mlp(Parameters, "trunk", Features, [6], Activation.Relu, Activation.Relu);
        CtrTower = Sequential<double>.Mlp(Parameters, "towers.ctr", 6, [5], Activation.Relu, Activation.Relu);
        CtrHead = new Dense<double>(Parameters, "heads.ctr", 5, 1);
        CvrTower = Sequential<double>.Mlp(Parameters, "towers.cvr", 6, [5], Activation.Relu, Activation.Relu);
        CvrHead = new Dense<double>(Parameters, "heads.cvr", 5, 1);
        Parameters.Allocate();
        Trunk.Initialize(Initializer.KaimingUniform, seed: 71);
        CtrTower.Initialize(Initializer.KaimingUniform, seed: 72);
        CvrTower.Initialize(Initializer.KaimingUniform, seed: 73);
        CtrHead.Initialize(Initializer.XavierUniform, seed: 74);
        CvrHead.Initialize(Initializer.XavierUniform, seed: 75);
        foreach (var layer in new[] { Trunk.Dense(0), CtrTower.Dense(0), CvrTower.Dense(0), CtrHead, CvrHead })
            Init.Upload(backend, Tolerance.Random(layer.Outputs, 300 + layer.Outputs, 0.05, 0.3), layer.Bias!.Data); // ReLUs away from 0
        if (parameterValues is not null) Init.Upload(backend, parameterValues, Parameters.Values);
        backend.Fill(Parameters.Gradients, 0);
        Leaves = new Leaves<double>(backend);
        X = Leaves.Make("x", Batch, Features, Inputs, requiresGrad: false);
        _click = backend.Allocate<int>(ClickLabels);
        _conversion = backend.Allocate<int>(ConversionLabels);
        Click = new Labels(_click.View);
        Conversion = new Labels(_conversion.View);
    }

    /// <summary>The shared group: every parameter both losses reach.</summary>
    public ParameterGroup<double> Shared => new([.. Trunk.Parameters.Parameters, .. CtrTower.Parameters.Parameters, .. CtrHead.Parameters]);

    /// <summary>The CVR tower and output layer: reached by the CTCVR loss only.</summary>
    public ParameterGroup<double> CvrOwn => new([.. CvrTower.Parameters.Parameters, .. CvrHead.Parameters]);

    public (Tensor<double>[] Losses, Tensor<double> Features, Tensor<double> CtrLogit) Forward(Tape<double> tape)
    {
        var h = Trunk.Forward(tape, X);
        var zCtr = CtrHead.Forward(tape, CtrTower.Forward(tape, h));
        var zCvr = CvrHead.Forward(tape, CvrTower.Forward(tape, h));
        var ctr = tape.MaskedBinaryCrossEntropy(zCtr, Click);
        var ctcvr = tape.MaskedProbabilityCrossEntropy(tape.Product(tape.Sigmoid(zCtr), tape.Sigmoid(zCvr)), Conversion);
        return ([ctr, ctcvr], h, zCtr);
    }

    public IEnumerable<(string Name, ParameterGroup<double> Group)> Groups =>
    [
        ("trunk", Trunk.Parameters),
        ("ctr tower + output", new ParameterGroup<double>([.. CtrTower.Parameters.Parameters, .. CtrHead.Parameters])),
        ("cvr tower + output", CvrOwn),
    ];

    public void Dispose()
    {
        _click.Dispose();
        _conversion.Dispose();
        Leaves.Dispose();
        Parameters.Dispose();
    }
}
