namespace Engine.Kernels;

/// <summary>
/// The readable float64 reference of MoCo's tracking pass (<see cref="Backend{T}.MocoTrack"/>), one element at a time:
/// every tracked row is updated and the Gram matrix of the updated rows summed in the same loop,
/// <code>
///   yᵢ[k] ← d·yᵢ[k] + sᵢ·gᵢ[k]           (d = scales[T], sᵢ = scales[i], from <see cref="MocoSolver.Scales"/>)
///   G[i, j] = Σₖ yᵢ[k]·yⱼ[k]             (over the new rows; G = YYᵀ, read by <see cref="MocoSolver.Lambda"/>)
/// </code>
/// Column k of every row is updated before its products are added, so each element is read and written once. The
/// kernels (Kernels/Combination/CpuTrackedRows.cs, IlgpuTrackedRows.cs) do the same over column chunks. Maths:
/// docs/maths.md §18.17.
/// </summary>
public static class MocoReference
{
    /// <summary>Updates <paramref name="tracked"/> (T rows y) in place from <paramref name="gradients"/> (T rows g) and
    /// <paramref name="scales"/> (T + 1), and returns the T × T Gram matrix of the updated rows.</summary>
    public static double[,] Track(double[][] tracked, double[][] gradients, double[] scales)
    {
        int tasks = tracked.Length, length = tracked[0].Length;
        double keep = scales[tasks];
        var gram = new double[tasks, tasks];
        for (int k = 0; k < length; k++)
        {
            for (int i = 0; i < tasks; i++) tracked[i][k] = keep * tracked[i][k] + scales[i] * gradients[i][k];
            for (int i = 0; i < tasks; i++)
                for (int j = 0; j < tasks; j++) gram[i, j] += tracked[i][k] * tracked[j][k];
        }
        return gram;
    }
}
