using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The input-embedding op against float64 central differences (torch's tolerances |analytic − numeric| ≤ 1e-5 +
/// 1e-3·|numeric|, h = 1e-6) with respect to both tables, with repeated indices (rows that share a table row sum their
/// gradients) and table rows no index names (gradient 0); a whole shared part reading embedded inputs (with dropout and layer
/// norms) passes a gradient check; and the stacked per-task backward — the tables at the head of the shared block, the
/// embedded input one more boundary tensor — equals one routed backward per task (float64, rtol 1e-12) for the shared bottom,
/// MMoE (whose task-owned gates read the embedded input), PLE and cross-stitch. Inputs that require a gradient are refused.
/// </summary>
public class EmbeddingOpTests
{
    [Theory]
    [MemberData(nameof(Float64Backends.All), MemberType = typeof(Float64Backends))]
    public void Gradient_check_with_respect_to_the_tables(string backendName)
    {
        var backend = Float64Backends.Get(backendName);
        using var leaves = new Leaves<double>(backend);
        // 6 rows: 2 numeric columns, then indices into a [4 × 3] table (row 2 never named) and a [3 × 2] table.
        double[] x = [0.5, -1, 0, 1, /**/ 0.2, 0.3, 3, 0, /**/ -0.7, 1.1, 0, 2, /**/ 1.5, 0.1, 1, 2, /**/ 0, 0, 3, 1, /**/ -2, 0.4, 0, 0];
        var input = leaves.Make("x", 6, 4, x, requiresGrad: false);
        var first = leaves.Random("e0", 4, 3, seed: 1);
        var second = leaves.Random("e1", 3, 2, seed: 2);
        var w = leaves.Random("w", 3, 7, seed: 3);
        var result = GradCheck.Run(backend, tape => tape.Linear(tape.Tanh(tape.EmbedInputs(input, 2, [first, second])), w), [first, second, w]);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(12 + 6 + 21, result.Checked);
    }

    [Fact]
    public void The_forward_concatenates_the_numeric_columns_and_the_table_rows()
    {
        var backend = Float64Backends.Get(Float64Backends.Cpu);
        using var leaves = new Leaves<double>(backend);
        var input = leaves.Make("x", 2, 3, [7, 1, 0, /**/ 8, 0, 1], requiresGrad: false);
        var first = leaves.Make("e0", 2, 2, [10, 11, 20, 21]);
        var second = leaves.Make("e1", 2, 1, [-1, -2]);
        using var tape = new Tape<double>(backend);
        var y = tape.EmbedInputs(input, 1, [first, second]);
        Assert.Equal((2, 4), y.Shape);
        Assert.Equal([7.0, 20, 21, -1, /**/ 8, 10, 11, -2], backend.ToArray(y.Data));
    }

    [Fact]
    public void Inputs_that_require_a_gradient_are_refused()
    {
        var backend = Float64Backends.Get(Float64Backends.Cpu);
        using var leaves = new Leaves<double>(backend);
        var input = leaves.Make("x", 1, 2, [0.5, 1]);
        var table = leaves.Make("e", 2, 2, [1, 2, 3, 4]);
        using var tape = new Tape<double>(backend);
        var e = Assert.Throws<ArgumentException>(() => tape.EmbedInputs(input, 1, [table]));
        Assert.Contains("index columns have none", e.Message);
        Assert.Throws<ArgumentException>(() => tape.EmbedInputs(leaves.Make("x2", 1, 2, [0.5, 1], requiresGrad: false), 0, [table]));  // 2 columns, 1 table
    }

    [Theory]
    [MemberData(nameof(DropoutOpTests.Cases), MemberType = typeof(DropoutOpTests))]
    public void Stacked_per_task_pass_through_the_embedding_equals_one_routed_backward_per_task(string backendName, string architecture)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MixtureOpTests.MoeNet(backend, DropoutOpTests.Make(architecture), dropout: 0.2, layerNorm: true, embed: true);
        Assert.Equal("embeddings.0.weight", net.Shared.Parameters[0].Name);
        Assert.Equal(net.Shared.Offset, net.Embedding!.Slots[0].Offset);             // the tables head the shared block
        MixtureOpTests.AssertStackedEqualsRouted(backend, net, architecture, tape => DropoutOpTests.Train(tape));
    }

    [Theory]
    [MemberData(nameof(DropoutOpTests.Cases), MemberType = typeof(DropoutOpTests))]
    public void A_shared_part_reading_embedded_inputs_passes_a_gradient_check(string backendName, string architecture)
    {
        var backend = Float64Backends.Get(backendName);
        using var net = new MixtureOpTests.MoeNet(backend, DropoutOpTests.Make(architecture), dropout: 0.2, layerNorm: true, embed: true);
        var result = GradCheck.Run(backend, tape =>
        {
            DropoutOpTests.Train(tape);
            var (losses, _) = net.Forward(tape);
            return tape.Add(tape.Add(losses[0], losses[1]), losses[2]);
        }, net.AllParameters);
        Assert.True(result.Passed, result.ToString());
        Assert.Equal(net.Parameters.Count, result.Checked);
    }
}
