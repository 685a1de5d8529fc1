using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Optimizers;

/// <summary>Cosines, running conflict counts and the per-pair mean of the cosines from the Gram matrix.</summary>
public class CombinationDiagnosticsTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Monitor_reports_cosines_and_conflict_counts(string device)
    {
        var backend = TestDevices.Get(device);
        using var monitor = new GradientConflictMonitor<float>(backend, 3);
        using var gradients = backend.Allocate<float>(6);
        // Step 1: g₁ = (1, 0), g₂ = (−1, 1), g₃ = (0, 0). cos(g₁, g₂) = −1/√2; g₃ is zero → cosines 0, no conflict.
        backend.Upload([1f, 0f, -1f, 1f, 0f, 0f], gradients.View);
        monitor.ObserveGradients(gradients.View);
        // Step 2: g₁ = (1, 0), g₂ = (1, 1), g₃ = (−2, 0): conflicts (1,3) and (2,3).
        backend.Upload([1f, 0f, 1f, 1f, -2f, 0f], gradients.View);
        monitor.ObserveGradients(gradients.View);

        var report = monitor.Report();
        Assert.Equal(2, report.Steps);
        double s = 1 / Math.Sqrt(2);
        // Last step's cosines: cos(g₁,g₂) = 1/√2, cos(g₁,g₃) = −1, cos(g₂,g₃) = −2/(√2·2) = −1/√2; diagonal 1.
        Tolerance.AllClose([1, s, -1, s, 1, -s, -1, -s, 1], report.Cosines, 1e-6, 1e-7, device);
        Assert.Equal([0, 1, 1, 1, 0, 1, 1, 1, 0], report.Conflicts);
        Assert.Equal(0.5, report.ConflictRate(0, 1));
        Assert.Equal(0.5, report.ConflictRate(1, 2));
    }

    [Fact]
    public void Monitor_can_reuse_the_combiners_gram()
    {
        var backend = TestDevices.Reference;
        using var combiner = new PcGradCombiner<double>(backend, tasks: 2);
        using var monitor = new GradientConflictMonitor<double>(backend, 2);
        CombinationTestSupport.Run(backend, combiner, [[1, 0], [-1, 1]], [1, 1]);
        monitor.Observe(combiner.Gram);
        var report = monitor.Report();
        Tolerance.AllClose([1, -1 / Math.Sqrt(2), -1 / Math.Sqrt(2), 1], report.Cosines, 1e-15, 0);
        Assert.Equal(1.0, report.ConflictRate(1, 0));
        Assert.Throws<ArgumentException>(() => monitor.Observe(combiner.Coefficients)); // 2 elements, not 2×2
    }

    /// <summary>The mean cosine is per entry, over the steps where both gradients are non-zero: six hand-built steps of three
    /// tasks, task 2 unlabelled (a zero row) in steps 1, 3 and 4 and task 0 in step 5. The diagonal is exactly 1 (each task's
    /// own steps only, where an all-steps mean would give 3/6 and 5/6), the off-diagonals equal a float64 reference — the
    /// mean over the steps where both rows are non-zero, from the float32 vectors — to 1e-6, and the counts are those of
    /// the hand-built pattern; over a range (a baseline after step 2) the same holds for the last four steps.</summary>
    /// <summary>MoCo forms the Gram matrix of the raw task gradients for its ‖gᵢ‖² and the step's diagnostics read it
    /// (<see cref="ITaskGramCombiner{T}"/>) instead of their own Gram pass: after one step from the same initial model
    /// the reported cosines are those of a method whose diagnostics form their own (<c>per-task sum</c> via the monitor's
    /// pass: GradDrop, not a Gram combiner) and of a Gram combiner (PCGrad), the same Gram kernel over the same
    /// gradients, so bit for bit; they are not trivial (off-diagonal strictly inside (−1, 1)).</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Moco_reports_the_cosines_of_the_raw_task_gradients(string device)
    {
        var backend = TestDevices.Get(device);
        const int rows = 16;
        var data = Problems.Data(rows, seed: 5);
        double[,] Cosines(string method)
        {
            using var model = MultiTaskModel.Create(Problems.Spec(), backend);
            using var upload = DeviceDataset.Upload(model, data);
            using var step = new TrainingStep(model, new StepOptions { Method = method, LearningRate = 0.01 }, rows);
            step.Run(upload, 0, rows);
            return step.ReadStatistics().TaskGradientCosines ?? throw new InvalidOperationException($"{method}: no cosines");
        }
        var moco = Cosines("moco");
        foreach (var other in new[] { "graddrop", "pcgrad" })
            Assert.Equal(Cosines(other), moco);
        int tasks = moco.GetLength(0);
        Assert.True(tasks >= 2);
        for (int i = 0; i < tasks; i++)
            for (int j = 0; j < tasks; j++)
                if (i != j) Assert.InRange(Math.Abs(moco[i, j]), 1e-6, 1 - 1e-6);
    }

    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_mean_cosine_counts_only_the_steps_where_both_tasks_have_a_gradient(string device)
    {
        var backend = TestDevices.Get(device);
        const int tasks = 3, length = 4;
        float[][][] steps =
        [
            [[1, 0, 2, -1], [-1, 1, 0, 0.5f], [0.3f, -2, 1, 1]],
            [[0.5f, 1, -1, 0], [2, -0.5f, 0, 1], [0, 0, 0, 0]],
            [[-1, 2, 0.5f, 0], [1, 1, 1, -1], [0.2f, 0.4f, -1, 2]],
            [[1, 1, 0, 0], [-0.5f, 2, -1, 0.3f], [0, 0, 0, 0]],
            [[0, 1, -2, 1], [1, 0, 0.25f, -1], [0, 0, 0, 0]],
            [[0, 0, 0, 0], [0.7f, -1, 1, 2], [1, 0.5f, -0.5f, 0]],
        ];
        using var monitor = new GradientConflictMonitor<float>(backend, tasks);
        using var gradients = backend.Allocate<float>(tasks * length);
        GradientConflictReport? baseline = null;
        for (int s = 0; s < steps.Length; s++)
        {
            backend.Upload<float>([.. steps[s].SelectMany(r => r)], gradients.View);
            monitor.ObserveGradients(gradients.View);
            if (s == 1) baseline = monitor.Report();
        }
        var report = monitor.Report();
        Assert.Equal([5, 5, 2, 5, 6, 3, 2, 3, 3], report.Present);

        foreach (var (since, first) in new[] { ((GradientConflictReport?)null, 0), (baseline, 2) })
        {
            var mean = report.MeanCosinesSince(since);
            for (int i = 0; i < tasks; i++)
            {
                Assert.Equal(1.0, mean[i * tasks + i]);
                for (int j = 0; j < tasks; j++)
                {
                    if (i == j) continue;
                    double sum = 0;
                    int present = 0;
                    for (int s = first; s < steps.Length; s++)
                    {
                        double dot = 0, a = 0, b = 0;
                        for (int k = 0; k < length; k++)
                        {
                            double x = steps[s][i][k], y = steps[s][j][k];
                            dot += x * y; a += x * x; b += y * y;
                        }
                        if (a == 0 || b == 0) continue;
                        sum += dot / Math.Sqrt(a * b);
                        present++;
                    }
                    Assert.Equal(sum / present, mean[i * tasks + j], 1e-6);
                }
            }
        }
    }

    /// <summary>The kernel's per-pair count of the steps with both norms non-zero, and its checks: a present count of
    /// the wrong length or overlapping the conflict counts is refused by name.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void The_diagnostics_kernel_counts_the_pairs_present_and_checks_its_operands(string device)
    {
        var backend = TestDevices.Get(device);
        // g₀ = (1, 0), g₁ = 0, g₂ = (−1, 2): Gram [[1, 0, −1], [0, 0, 0], [−1, 0, 5]].
        using var gram = backend.Allocate<float>([1f, 0f, -1f, 0f, 0f, 0f, -1f, 0f, 5f]);
        using var cosines = backend.Allocate<float>(9);
        using var counts = backend.Allocate<int>(new int[18]);
        var conflicts = counts.View.Slice(0, 9);
        var present = counts.View.Slice(9, 9);
        backend.GradientDiagnostics(gram.View, 3, cosines.View, conflicts, present);
        backend.GradientDiagnostics(gram.View, 3, cosines.View, conflicts, present);
        Assert.Equal([2, 0, 2, 0, 0, 0, 2, 0, 2], backend.ToArray(present));
        Assert.Equal([0, 0, 2, 0, 0, 0, 2, 0, 0], backend.ToArray(conflicts));
        Assert.Equal("present", Assert.Throws<ArgumentException>(() => backend.GradientDiagnostics(gram.View, 3, cosines.View, conflicts, counts.View.Slice(9, 8))).ParamName);
        Assert.Equal("present", Assert.Throws<ArgumentException>(() => backend.GradientDiagnostics(gram.View, 3, cosines.View, conflicts, counts.View.Slice(4, 9))).ParamName);
    }
}
