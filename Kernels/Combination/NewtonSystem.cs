namespace Engine.Kernels;

/// <summary>
/// The linear algebra of one Newton step of the Gram-matrix solvers (<see cref="NashMtlSolver"/>, <see cref="FairGradSolver"/>),
/// in float64 on a <see cref="ICombinationMemory"/> workspace, so it runs unchanged on the host and in a single-thread ILGPU
/// kernel: the n×n Hessian H (row-major at <c>h</c>) is Cholesky-factored in place (H = LLᵀ, L in the lower triangle), then
/// L y = −∇f and Lᵀ d = y give the Newton direction d = −H⁻¹∇f (∇f at <c>grad</c>, d written at <c>dir</c>).
/// </summary>
internal static class NewtonSystem
{
    /// <summary>Factors H, solves for d and returns the Newton decrement λ² = −∇f·d; NaN when a pivot is not positive
    /// (H not positive definite to rounding).</summary>
    public static double Solve<TMemory>(TMemory m, int n, int h, int grad, int dir) where TMemory : struct, ICombinationMemory
    {
        for (int c = 0; c < n; c++)
        {
            double diagonal = m.Get(h + c * n + c);
            for (int k = 0; k < c; k++) diagonal -= m.Get(h + c * n + k) * m.Get(h + c * n + k);
            if (!(diagonal > 0)) return double.NaN;
            double l = Math.Sqrt(diagonal);
            m.Set(h + c * n + c, l);
            for (int r = c + 1; r < n; r++)
            {
                double s = m.Get(h + r * n + c);
                for (int k = 0; k < c; k++) s -= m.Get(h + r * n + k) * m.Get(h + c * n + k);
                m.Set(h + r * n + c, s / l);
            }
        }
        for (int r = 0; r < n; r++)
        {
            double s = -m.Get(grad + r);
            for (int k = 0; k < r; k++) s -= m.Get(h + r * n + k) * m.Get(dir + k);
            m.Set(dir + r, s / m.Get(h + r * n + r));
        }
        for (int r = n - 1; r >= 0; r--)
        {
            double s = m.Get(dir + r);
            for (int k = r + 1; k < n; k++) s -= m.Get(h + k * n + r) * m.Get(dir + k);
            m.Set(dir + r, s / m.Get(h + r * n + r));
        }
        double decrement = 0;
        for (int r = 0; r < n; r++) decrement -= m.Get(grad + r) * m.Get(dir + r);
        return decrement;
    }
}
