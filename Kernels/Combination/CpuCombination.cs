using System.Numerics;

namespace Engine.Kernels.Cpu;

/// <summary>The T×T combination solver over host memory (float or double in, float64 arithmetic).</summary>
internal unsafe readonly struct CpuCombinationMemory<T>(T* gram, T* weights, double* work, T* coefficients) : ICombinationMemory
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public double Gram(int index) => double.CreateTruncating(gram[index]);
    public double Weight(int task) => double.CreateTruncating(weights[task]);
    public double Get(int index) => work[index];
    public void Set(int index, double value) => work[index] = value;
    public void SetCoefficient(int task, double value) => coefficients[task] = T.CreateTruncating(value);
}

public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void CombinationCoefficients(CombinationSettings settings, View<T> gram, int count, View<T> weights,
        int seed, View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckCoefficients(this, settings, gram, count, weights, workspace, coefficients);
        var memory = new CpuCombinationMemory<T>(gram.Pointer(), weights.Pointer(), workspace.Pointer(), coefficients.Pointer());
        CombinationSolver.Solve(memory, count, new SolverParameters(settings, seed));
    }


    /// <inheritdoc/>
    public override void GradientDiagnostics(View<T> gram, int count, View<T> cosines, View<int> conflicts, View<int> present)
    {
        CombinationChecks.CheckDiagnostics(this, gram, count, cosines, conflicts, present);
        ReadOnlySpan<T> g = gram.Span();
        Span<T> cos = cosines.Span();
        Span<int> n = conflicts.Span(), both = present.Span();
        for (int i = 0; i < count; i++)
            for (int j = 0; j < count; j++)
            {
                double gij = double.CreateTruncating(g[i * count + j]);
                double norms = Math.Sqrt(double.CreateTruncating(g[i * count + i]) * double.CreateTruncating(g[j * count + j]));
                cos[i * count + j] = T.CreateTruncating(norms > 0 ? gij / norms : 0.0);
                if (norms > 0) both[i * count + j]++;   // the cosine is defined: it counts towards the mean
                if (i != j && gij < 0) n[i * count + j]++;
            }
    }

}
