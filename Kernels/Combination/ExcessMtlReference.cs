namespace Engine.Kernels;

/// <summary>
/// ExcessMTL's O(T·P) pass in float64, one line per formula, as LibMTL's <c>ExcessMTL.backward</c> writes it: the
/// reference the SIMD CPU path (<c>CpuExcessMtl.cs</c>) and the ILGPU kernel (<c>IlgpuExcessMtl.cs</c>) are tested
/// against. Maths: docs/maths.md §18.18.
/// </summary>
public static class ExcessMtlReference
{
    /// <summary>For each task i of the gradients g [T × P] (unweighted, of the shared parameters): the accumulated squares
    /// Sᵢ ← Sᵢ + gᵢ² (AdaGrad's diagonal, in place; an element whose new sum is not finite keeps the old one), and the excess
    /// risk estimate rᵢ = Σₚ gᵢₚ² / √(Sᵢₚ + ε) = gᵢᵀ diag(hᵢ)⁻¹ gᵢ with hᵢ = √(Sᵢ + ε), the new Sᵢ.</summary>
    public static double[] Risks(double[] gradients, int tasks, double[] squaredSums, double epsilon = ExcessMtlSolver.Epsilon)
    {
        int length = gradients.Length / tasks;
        var risks = new double[tasks];
        for (int i = 0; i < tasks; i++)
            for (int p = i * length; p < (i + 1) * length; p++)
            {
                double g2 = gradients[p] * gradients[p];
                double s = squaredSums[p] + g2;                         // grad_sum[i] += grads[i]**2
                if (double.IsFinite(s)) squaredSums[p] = s;
                risks[i] += g2 / Math.Sqrt(s + epsilon);                // grad_i * (1 / h_i) @ grad_i, h_i = sqrt(grad_sum[i] + 1e-7)
            }
        return risks;
    }
}
