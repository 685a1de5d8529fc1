namespace Engine.Kernels;

/// <summary>
/// Layer normalization in float64, written as plainly as possible: the reference the SIMD CPU path
/// (<c>CpuLayerNorm.cs</c>) and the ILGPU kernels (<c>IlgpuLayerNorm.cs</c>) are tested against. Rows form
/// <c>groups</c> equal consecutive blocks, block g normalized with row g of γ, β [groups × cols]. Maths: docs/maths.md §21.2.
/// </summary>
public static class LayerNormReference
{
    /// <summary>y = γ·(x − μ)/√(σ² + ε) + β per row (σ² the biased variance), with the saved μ and rstd = 1/√(σ² + ε).</summary>
    public static (double[] Y, double[] Mean, double[] Rstd) Forward(double[] x, int rows, int cols, int groups,
        double[] gamma, double[] beta, double epsilon)
    {
        var y = new double[rows * cols];
        var mean = new double[rows];
        var rstd = new double[rows];
        int perGroup = rows / groups;
        for (int r = 0; r < rows; r++)
        {
            int g = r / perGroup;
            double sum = 0;
            for (int j = 0; j < cols; j++) sum += x[r * cols + j];
            double mu = sum / cols, squares = 0;
            for (int j = 0; j < cols; j++) squares += (x[r * cols + j] - mu) * (x[r * cols + j] - mu);
            double s = 1 / Math.Sqrt(squares / cols + epsilon);
            mean[r] = mu;
            rstd[r] = s;
            for (int j = 0; j < cols; j++) y[r * cols + j] = gamma[g * cols + j] * (x[r * cols + j] - mu) * s + beta[g * cols + j];
        }
        return (y, mean, rstd);
    }

    /// <summary>dx = rstd·(g − mean(g) − x̂·mean(g·x̂)) with g = dy·γ; dγ = Σ dy·x̂ and dβ = Σ dy over each group's rows.</summary>
    public static (double[] Dx, double[] DGamma, double[] DBeta) Backward(double[] x, int rows, int cols, int groups,
        double[] gamma, double epsilon, double[] dy)
    {
        var (_, mean, rstd) = Forward(x, rows, cols, groups, gamma, new double[groups * cols], epsilon);
        var dx = new double[rows * cols];
        var dGamma = new double[groups * cols];
        var dBeta = new double[groups * cols];
        int perGroup = rows / groups;
        for (int r = 0; r < rows; r++)
        {
            int g = r / perGroup;
            double meanG = 0, meanGx = 0;
            for (int j = 0; j < cols; j++)
            {
                double xhat = (x[r * cols + j] - mean[r]) * rstd[r], gj = dy[r * cols + j] * gamma[g * cols + j];
                meanG += gj / cols;
                meanGx += gj * xhat / cols;
                dGamma[g * cols + j] += dy[r * cols + j] * xhat;
                dBeta[g * cols + j] += dy[r * cols + j];
            }
            for (int j = 0; j < cols; j++)
            {
                double xhat = (x[r * cols + j] - mean[r]) * rstd[r], gj = dy[r * cols + j] * gamma[g * cols + j];
                dx[r * cols + j] = rstd[r] * (gj - meanG - xhat * meanGx);
            }
        }
        return (dx, dGamma, dBeta);
    }
}
