using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;

namespace Engine.Tests.Model;

/// <summary>
/// Cross-stitch (Misra et al. 2016) as a model: the layout (columns and the hidden units shared, row t of the last unit
/// in task t's block), the initial units (α_S on the diagonal, (1 − α_S)/(T − 1) off it), and predictions against
/// float64 loops written here from the stored weights (rtol 1e-5, atol 1e-6). The per-task step path and the warm-step
/// allocation are in <see cref="MixtureOfExpertsModelTests"/> and <c>AllocationTests</c>.
/// </summary>
public class CrossStitchModelTests
{
    private static readonly CpuBackend<float> Cpu = new();
    private const int Rows = 9;

    private static ModelSpec Spec(double sameTask) =>
        Problems.Spec(tower: [4]) with { Architecture = new CrossStitchArchitecture(sameTask), TrunkOutputActivation = Activation.Relu };

    [Fact]
    public void Layout_and_initial_units_follow_the_paper()
    {
        using var model = MultiTaskModel.Create(Spec(0.7), Cpu);
        var names = model.Parameters.Slots.Select(s => s.Name).ToArray();
        int shared = model.SharedParameters.Length;
        Assert.Equal(2 * (8 * 5 + 8) + 2 * (6 * 8 + 6) + 2 * 2, shared);      // 2 columns of [8, 6], one 2×2 unit
        Assert.Equal(["columns.0.weight", "columns.0.bias", "columns.1.weight", "columns.1.bias", "stitch.0", "stitch.1.reg"], names[..6]);
        Assert.Contains("stitch.1.cls", names);
        Tolerance.AllClose([0.7, 0.3, 0.3, 0.7], model.ReadParameter("stitch.0"), 0, 1e-7, "stitch.0");
        Tolerance.AllClose([0.7, 0.3], model.ReadParameter("stitch.1.reg"), 0, 1e-7, "row 0 of the last unit");
        Tolerance.AllClose([0.3, 0.7], model.ReadParameter("stitch.1.cls"), 0, 1e-7, "row 1 of the last unit");
        var bad = Assert.Throws<ArgumentOutOfRangeException>(() => MultiTaskModel.Create(Spec(1.5), Cpu));
        Assert.Equal("SameTask", bad.ParamName);
    }

    [Fact]
    public void Predictions_equal_float64_loops_over_the_stored_weights()
    {
        using var model = MultiTaskModel.Create(Spec(0.8), Cpu);
        // Move the units off their symmetric start so the test sees every α.
        model.WriteParameter("stitch.0", [0.9f, -0.4f, 0.25f, 0.6f]);
        model.WriteParameter("stitch.1.cls", [0.35f, 0.55f]);
        var data = Problems.Data(Rows, seed: 4);
        var predicted = model.Predict(data.Inputs, Rows);
        double[] P(string name) => Tolerance.ToDouble(model.ReadParameter(name));
        var x = Tolerance.ToDouble(data.Inputs);
        int[] widths = [5, 8, 6];
        for (int r = 0; r < Rows; r++)
        {
            var h = new double[2][];
            for (int c = 0; c < 2; c++) h[c] = x.AsSpan(r * 5, 5).ToArray();
            for (int l = 0; l < 2; l++)
            {
                var w = P($"columns.{l}.weight");
                var b = P($"columns.{l}.bias");
                int din = widths[l], dout = widths[l + 1];
                var next = new double[2][];
                for (int c = 0; c < 2; c++)
                {
                    next[c] = new double[dout];
                    for (int o = 0; o < dout; o++)
                    {
                        double z = b[c * dout + o];
                        for (int i = 0; i < din; i++) z += w[(c * dout + o) * din + i] * h[c][i];
                        next[c][o] = l == 0 ? Math.Tanh(z) : Math.Max(0, z);
                    }
                }
                h = next;
                if (l == 0)
                {
                    var a = P("stitch.0");
                    h = [Mix(a[0], h[0], a[1], h[1]), Mix(a[2], h[0], a[3], h[1])];
                }
            }
            for (int t = 0; t < 2; t++)
            {
                string task = model.Spec.Heads[t].Name;
                var row = P($"stitch.1.{task}");
                var features = Mix(row[0], h[0], row[1], h[1]);
                var tower = Dense(P($"towers.{task}.0.weight"), P($"towers.{task}.0.bias"), features, 4, Math.Tanh);
                var outputs = Dense(P($"heads.{task}.weight"), P($"heads.{task}.bias"), tower, model.Spec.Heads[t].Outputs, v => v);
                Tolerance.AllClose(outputs, predicted.Tasks[t].Values.AsSpan(r * outputs.Length, outputs.Length), 1e-5, 1e-6, $"task {task} row {r}");
            }
        }
    }

    private static double[] Mix(double a, double[] u, double b, double[] v) => [.. u.Select((ui, i) => a * ui + b * v[i])];

    private static double[] Dense(double[] w, double[] b, double[] x, int outputs, Func<double, double> f) =>
        MixtureOfExpertsModelTests.Dense(w, b, x, outputs, f);
}
