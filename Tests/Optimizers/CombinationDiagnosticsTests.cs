using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>Cosines and running conflict counts from the Gram matrix.</summary>
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
}
