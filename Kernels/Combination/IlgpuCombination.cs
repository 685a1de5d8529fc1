using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;
using DoubleView = ArrayView1D<double, Stride1D.Dense>;
using IntView = ArrayView1D<int, Stride1D.Dense>;

/// <summary>The T×T combination solver over device memory: the same <see cref="CombinationSolver"/> code as the CPU path.
/// Public because ILGPU's CPU accelerator emits IL (in another dynamic assembly) that must see the kernel's parameter types.</summary>
public readonly struct IlgpuCombinationMemory(FloatView gram, FloatView weights, DoubleView work, FloatView coefficients) : ICombinationMemory
{
    public double Gram(int index) => gram[index];
    public double Weight(int task) => weights[task];
    public double Get(int index) => work[index];
    public void Set(int index, double value) => work[index] = value;
    public void SetCoefficient(int task, double value) => coefficients[task] = (float)value;
}

public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, IlgpuCombinationMemory, int, SolverParameters>? _coefficientsKernel;
    private Action<AcceleratorStream, Index1D, FloatView, int, FloatView, IntView, IntView>? _diagnosticsKernel;

    /// <summary>Single-thread kernel: the whole T×T solve (T is small; no host round-trip).</summary>
    private static void CoefficientsKernel(Index1D index, IlgpuCombinationMemory memory, int count, SolverParameters parameters)
    {
        if (index == 0) CombinationSolver.Solve(memory, count, parameters);
    }

    /// <inheritdoc/>
    public override void CombinationCoefficients(CombinationSettings settings, View<float> gram, int count, View<float> weights,
        int seed, View<double> workspace, View<float> coefficients)
    {
        CombinationChecks.CheckCoefficients(this, settings, gram, count, weights, workspace, coefficients);
        _coefficientsKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, IlgpuCombinationMemory, int, SolverParameters>(CoefficientsKernel);
        var memory = new IlgpuCombinationMemory(gram.Ilgpu(), weights.Ilgpu(), workspace.Ilgpu(), coefficients.Ilgpu());
        _coefficientsKernel(Launched(), 1, memory, count, new SolverParameters(settings, seed));
    }

    /// <summary>Single-thread kernel: cosines, running conflict counts and running counts of the steps whose cosine is
    /// defined (both norms non-zero) from the Gram matrix.</summary>
    private static void DiagnosticsKernel(Index1D index, FloatView gram, int count, FloatView cosines, IntView conflicts, IntView present)
    {
        if (index != 0) return;
        for (int i = 0; i < count; i++)
            for (int j = 0; j < count; j++)
            {
                float gij = gram[i * count + j];
                float norms = SquareRoot(gram[i * count + i] * gram[j * count + j]);
                cosines[i * count + j] = norms > 0 ? gij / norms : 0f;
                if (norms > 0) present[i * count + j] += 1;
                if (i != j && gij < 0) conflicts[i * count + j] += 1;
            }
    }

    private static float SquareRoot(float x) => (float)Math.Sqrt(x);

    /// <inheritdoc/>
    public override void GradientDiagnostics(View<float> gram, int count, View<float> cosines, View<int> conflicts, View<int> present)
    {
        CombinationChecks.CheckDiagnostics(this, gram, count, cosines, conflicts, present);
        _diagnosticsKernel ??= Accelerator.LoadAutoGroupedKernel<Index1D, FloatView, int, FloatView, IntView, IntView>(DiagnosticsKernel);
        _diagnosticsKernel(Launched(), 1, gram.Ilgpu(), count, cosines.Ilgpu(), conflicts.Ilgpu(), present.Ilgpu());
    }
}
