using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The dropout op: float64 central differences with a fixed mask (seed, step, layer held, torch's tolerances
/// |analytic − numeric| ≤ 1e-5 + 1e-3·|numeric|, h = 1e-6), the identity when the tape is not training, a new mask per
/// step, and the stacked per-task backward through a shared part with dropout equal to one routed backward per task
/// (float64, rtol 1e-12) for the shared bottom, MMoE, PLE and cross-stitch.
/// </summary>
public class DropoutOpTests
{
    internal static void Train(Tape<double> tape, long step = 3)
    {
        tape.Training = true;
        tape.RandomSeed = 11;
        tape.RandomStep = step;
    }

    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_with_a_fixed_mask(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 5, 7, seed: 1);
        var w = leaves.Random("w", 3, 7, seed: 2);
        var result = GradCheck.Run(backend, tape =>
        {
            Train(tape);
            return tape.Tanh(tape.Linear(tape.Dropout(tape.Tanh(x), 0.4, layer: 9), w));
        }, [x, w]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(35 + 21, result.Checked);
    }

    [Fact]
    public void It_drops_while_training_and_is_the_identity_otherwise()
    {
        var backend = TestDevices.Reference;
        using var leaves = new Leaves<double>(backend);
        var x = leaves.Random("x", 8, 16, seed: 3);
        using var tape = new Tape<double>(backend);
        Assert.Same(x, tape.Dropout(x, 0.5, 1));                 // not training (evaluation, prediction)
        Train(tape);
        Assert.Same(x, tape.Dropout(x, 0.0, 1));                 // p = 0
        var a = backend.ToArray(tape.Dropout(x, 0.5, 1).Data);
        var again = backend.ToArray(tape.Dropout(x, 0.5, 1).Data);
        var otherLayer = backend.ToArray(tape.Dropout(x, 0.5, 2).Data);
        tape.RandomStep = 4;
        var nextStep = backend.ToArray(tape.Dropout(x, 0.5, 1).Data);
        var xs = backend.ToArray(x.Data);
        Assert.Equal(a, again);                                  // a pure function of (seed, step, layer, element)
        Assert.NotEqual(a, otherLayer);
        Assert.NotEqual(a, nextStep);
        for (int i = 0; i < xs.Length; i++) Assert.True(a[i] == 0 || a[i] == xs[i] * 2, $"element {i}");
        Assert.Throws<ArgumentOutOfRangeException>(() => tape.Dropout(x, 1.0, 1));
    }

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var b in Float64Backends.All) foreach (var a in new[] { "shared-bottom", "mmoe", "ple2", "cross-stitch" }) data.Add(b, a);
        return data;
    }

    internal static Architecture Make(string name) => name switch
    {
        "shared-bottom" => new SharedBottomArchitecture(),
        "mmoe" => new MmoeArchitecture(3),
        "ple2" => new PleArchitecture(2, 1, 2),
        _ => new CrossStitchArchitecture(0.8),
    };

    [Theory]
    [MemberData(nameof(Cases))]
    public void Stacked_per_task_pass_with_dropout_equals_one_routed_backward_per_task(string backendName, string architecture)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MixtureOpTests.MoeNet(backend, Make(architecture), dropout: 0.3);
        MixtureOpTests.AssertStackedEqualsRouted(backend, net, architecture, tape => Train(tape));
    }
}
