using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Layer normalization on ILGPU, implicitly grouped: the forward and the input gradient one thread per row (two
/// passes over the row for the statistics, one for the output, as the reference writes them), the parameter gradients one
/// thread per (group, column) summing its group's rows in order. The straightforward kernels (no warp reductions over a
/// row): correct everywhere and the place to start for a tuned one. Reference: Kernels/Normalization/LayerNormReference.cs.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, Dense, Dense, Dense, int, int, float>? _layerNorm;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, Dense, Dense, Dense, int, int, int>? _layerNormInput;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, Dense, Dense, int, int, int, int>? _layerNormParameters;

    /// <inheritdoc/>
    public override void LayerNormForward(View<float> x, int rows, int cols, int groups, View<float> gamma, View<float> beta, float epsilon,
        View<float> y, View<float> mean, View<float> rstd)
    {
        LayerNormChecks.Forward(this, x, rows, cols, groups, gamma, beta, y, mean, rstd);
        _layerNorm ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, Dense, Dense, Dense, int, int, float>(LayerNormKernel);
        _layerNorm(Launched(), rows, x.Ilgpu(), gamma.Ilgpu(), beta.Ilgpu(), y.Ilgpu(), mean.Ilgpu(), rstd.Ilgpu(), cols, rows / groups, epsilon);
    }

    /// <inheritdoc/>
    public override void LayerNormBackwardInput(View<float> x, View<float> mean, View<float> rstd, View<float> gamma, View<float> dy, int rows,
        int cols, int groups, View<float> scratch, View<float> dx, bool accumulate)
    {
        LayerNormChecks.Backward(this, x, mean, rstd, dy, rows, cols, groups, scratch, dx, nameof(dx), (long)rows * cols);
        Check.Length(gamma, (long)groups * cols, nameof(gamma));
        _layerNormInput ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, Dense, Dense, Dense, int, int, int>(LayerNormInputKernel);
        _layerNormInput(Launched(), rows, x.Ilgpu(), mean.Ilgpu(), rstd.Ilgpu(), gamma.Ilgpu(), dy.Ilgpu(), dx.Ilgpu(), cols, rows / groups, accumulate ? 1 : 0);
    }

    /// <inheritdoc/>
    public override void LayerNormBackwardParameters(View<float> x, View<float> mean, View<float> rstd, View<float> dy, int rows, int cols,
        int groups, View<float> scratch, View<float> dGamma, bool accumulateGamma, View<float> dBeta, bool accumulateBeta)
    {
        LayerNormChecks.Backward(this, x, mean, rstd, dy, rows, cols, groups, scratch, dGamma, nameof(dGamma), (long)groups * cols);
        LayerNormChecks.Backward(this, x, mean, rstd, dy, rows, cols, groups, scratch, dBeta, nameof(dBeta), (long)groups * cols);
        _layerNormParameters ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, Dense, Dense, int, int, int, int>(LayerNormParametersKernel);
        // 0 = skip (no launch), 1 = overwrite, 2 = accumulate.
        int modeGamma = dGamma.IsEmpty ? 0 : accumulateGamma ? 2 : 1, modeBeta = dBeta.IsEmpty ? 0 : accumulateBeta ? 2 : 1;
        if (modeGamma != 0)
            _layerNormParameters(Launched(), groups * cols, x.Ilgpu(), mean.Ilgpu(), rstd.Ilgpu(), dy.Ilgpu(), dGamma.Ilgpu(), cols, rows / groups, modeGamma, 0);
        if (modeBeta != 0)
            _layerNormParameters(Launched(), groups * cols, x.Ilgpu(), mean.Ilgpu(), rstd.Ilgpu(), dy.Ilgpu(), dBeta.Ilgpu(), cols, rows / groups, modeBeta, 1);
    }

    /// <summary>Row r: μ, rstd, y = γ·(x − μ)·rstd + β.</summary>
    internal static void LayerNormKernel(Index1D r, Dense x, Dense gamma, Dense beta, Dense y, Dense mean, Dense rstd, int cols, int perGroup, float epsilon)
    {
        int row = r * cols, g = r / perGroup * cols;
        float sum = 0;
        for (int j = 0; j < cols; j++) sum += x[row + j];
        float mu = sum / cols, squares = 0;
        for (int j = 0; j < cols; j++) { float d = x[row + j] - mu; squares += d * d; }
        float s = 1f / XMath.Sqrt(squares / cols + epsilon);
        for (int j = 0; j < cols; j++) y[row + j] = gamma[g + j] * ((x[row + j] - mu) * s) + beta[g + j];
        mean[r] = mu;
        rstd[r] = s;
    }

    /// <summary>Row r: dx (+)= rstd·(g − mean(g) − x̂·mean(g·x̂)), g = dy·γ.</summary>
    internal static void LayerNormInputKernel(Index1D r, Dense x, Dense mean, Dense rstd, Dense gamma, Dense dy, Dense dx, int cols, int perGroup, int accumulate)
    {
        int row = r * cols, g = r / perGroup * cols;
        float mu = mean[r], s = rstd[r], sumG = 0, sumGx = 0;
        for (int j = 0; j < cols; j++)
        {
            float gj = dy[row + j] * gamma[g + j];
            sumG += gj;
            sumGx += gj * ((x[row + j] - mu) * s);
        }
        float meanG = sumG / cols, meanGx = sumGx / cols;
        for (int j = 0; j < cols; j++)
        {
            float d = s * (dy[row + j] * gamma[g + j] - meanG - (x[row + j] - mu) * s * meanGx);
            dx[row + j] = accumulate != 0 ? dx[row + j] + d : d;
        }
    }

    /// <summary>Element (g, j) of dγ (<paramref name="beta"/> 0: Σ dy·x̂) or dβ (1: Σ dy) over group g's rows in order;
    /// mode 1 overwrites, 2 accumulates.</summary>
    internal static void LayerNormParametersKernel(Index1D i, Dense x, Dense mean, Dense rstd, Dense dy, Dense output, int cols, int perGroup, int mode, int beta)
    {
        if (mode == 0) return;
        int g = i / cols, j = i % cols;
        float sum = 0;
        for (int r = g * perGroup; r < (g + 1) * perGroup; r++)
            sum += beta != 0 ? dy[r * cols + j] : dy[r * cols + j] * ((x[r * cols + j] - mean[r]) * rstd[r]);
        output[i] = mode == 2 ? output[i] + sum : sum;
    }
}
