using System.Numerics;

namespace Engine.Kernels.Cpu;

/// <summary><see cref="IMocoScalesMemory"/> over host pointers (state in the backend's precision T, arithmetic in float64).
/// ‖gᵢ‖² is read from the Gram matrix's diagonal (<paramref name="diagonalStride"/> = T + 1); <paramref name="gram"/> and
/// <paramref name="losses"/> may be null when the gradients are not normalised.</summary>
internal unsafe readonly struct CpuMocoScalesMemory<T>(T* gram, int diagonalStride, T* losses, T* weights, T* state, T* scales) : IMocoScalesMemory
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public double SquaredNorm(int task) => double.CreateTruncating(gram[(long)task * diagonalStride]);
    public double Loss(int task) => double.CreateTruncating(losses[task]);
    public double Weight(int task) => double.CreateTruncating(weights[task]);
    public double Get(int index) => double.CreateTruncating(state[index]);
    public void Set(int index, double value) => state[index] = T.CreateTruncating(value);
    public void SetScale(int index, double value) => scales[index] = T.CreateTruncating(value);
}

/// <summary><see cref="IMocoLambdaMemory"/> over host pointers.</summary>
internal unsafe readonly struct CpuMocoLambdaMemory<T>(T* gram, T* state, double* work, T* coefficients) : IMocoLambdaMemory
    where T : unmanaged, IFloatingPointIeee754<T>
{
    public double Gram(int index) => double.CreateTruncating(gram[index]);
    public double Get(int index) => double.CreateTruncating(state[index]);
    public void Set(int index, double value) => state[index] = T.CreateTruncating(value);
    public double Work(int index) => work[index];
    public void SetWork(int index, double value) => work[index] = value;
    public void SetCoefficient(int task, double value) => coefficients[task] = T.CreateTruncating(value);
}

/// <summary>MoCo on the host: the two T-sized parts are <see cref="MocoSolver"/> (float64 loops; nothing for SIMD to do),
/// the T × P tracking pass forms the Gram matrix of the updated rows in the same SIMD pass over column chunks, split across
/// the workers (Kernels/Combination/CpuTrackedRows.cs); the linear combination after it is CpuGram.cs's. Readable
/// reference: <see cref="MocoReference"/>.
/// Maths: docs/maths.md §18.17.</summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void MocoScales(View<T> gram, View<T> losses, View<T> weights, MocoParameters parameters, View<T> state, View<T> scales)
    {
        CombinationChecks.CheckMocoScales(this, gram, losses, weights, parameters, state, scales);
        bool normalize = parameters.Normalization == MocoSolver.NormalizeByLoss;
        int count = (int)weights.Length;
        MocoSolver.Scales(new CpuMocoScalesMemory<T>(normalize ? gram.Pointer() : null, count + 1, normalize ? losses.Pointer() : null,
            weights.Pointer(), state.Pointer(), scales.Pointer()), count, parameters);
    }

    /// <inheritdoc/>
    /// <remarks>One pass: <see cref="UpdateRowsAndGram"/> with keep = scales[T] and row scales scales[i].</remarks>
    public override void MocoTrack(View<T> tracked, View<T> vectors, int count, int length, View<T> scales, View<T> gram, View<T> saved = default)
    {
        CombinationChecks.CheckMocoTrack(this, tracked, vectors, count, length, scales, gram, saved);
        UpdateRowsAndGram(tracked, vectors, count, length, scales.Span()[count], T.One, scales.Slice(0, count), allPairs: true, gram, saved);
    }

    /// <inheritdoc/>
    public override unsafe void MocoLambda(View<T> gram, int count, MocoParameters parameters, View<T> state, View<double> workspace, View<T> coefficients)
    {
        CombinationChecks.CheckMocoLambda(this, gram, count, parameters, state, workspace, coefficients);
        MocoSolver.Lambda(new CpuMocoLambdaMemory<T>(gram.Pointer(), state.Pointer(), workspace.Pointer(), coefficients.Pointer()), count, parameters);
    }
}
