using Engine.Kernels;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>Small seeded multi-task problems for the training tests.</summary>
internal static class Problems
{
    /// <summary>5 inputs → trunk [8, 6] (tanh) → "reg" (2 regression outputs, λ = 1) and "cls" (3 classes, λ = 0.5).</summary>
    public static ModelSpec Spec(ulong seed = 7, Activation activation = Activation.Tanh, double? regLr = null, double? clsLr = null, int[]? trunk = null, int[]? tower = null) =>
        new(5, trunk ?? [8, 6], [new TaskHead("reg", Engine.Data.TaskKind.Regression, 2, 1.0, regLr), new TaskHead("cls", Engine.Data.TaskKind.Classification, 3, 0.5, clsLr)])
        {
            TrunkActivation = activation,
            Seed = seed,
            Tower = tower,
        };

    /// <summary>Rows of x ~ U(−1, 1)⁵; reg = (x₀ + 2x₁ − x₂, x₃·x₄ + 0.5); cls = argmax of three fixed linear scores.
    /// With <paramref name="scale"/>, the regression targets carry σ = (2, 0.5).</summary>
    public static TrainingData Data(int rows, int seed, bool scale = false, bool flipRegression = false)
    {
        var rng = new Random(seed);
        var x = new float[rows * 5];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(2 * rng.NextDouble() - 1);
        var reg = new float[rows * 2];
        var cls = new int[rows];
        for (int r = 0; r < rows; r++)
        {
            var v = x.AsSpan(r * 5, 5);
            double sign = flipRegression ? -1 : 1;
            reg[2 * r] = (float)(sign * (v[0] + 2 * v[1] - v[2]));
            reg[2 * r + 1] = (float)(sign * (v[3] * v[4] + 0.5));
            double[] s = [v[0] - v[1], v[2] + v[3], -v[0] - v[4]];
            cls[r] = Array.IndexOf(s, s.Max());
        }
        return new TrainingData(x, 5, [TaskData.Regression("reg", reg, 2, scale ? [2.0, 0.5] : null), TaskData.Classification("cls", cls, 3)]);
    }

    public static double[] Inputs(TrainingData data) => Array.ConvertAll(data.Inputs, v => (double)v);
    public static double[]?[] Targets(TrainingData data) => [Array.ConvertAll(data["reg"].Values!, v => (double)v), null];
    public static int[]?[] Labels(TrainingData data) => [null, data["cls"].Classes];
}
