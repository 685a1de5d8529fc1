using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Aligned-MTL (Senushkin et al. 2023, "Independent Component Alignment for Multi-Task Learning", CVPR; reference code
/// SamsungLabs/MTL <c>AlignedMTLBalancer</c>, LibMTL <c>Aligned_MTL</c>): the weighted task gradients G̃ = [wᵢgᵢ] are
/// replaced by the nearest matrix with orthogonal rows of equal norm σ — Ĝ = σ·UWᵀ for the SVD G̃ = UΣWᵀ, i.e.
/// Ĝ = B·G̃ with B = σ·VΛ^{-1/2}Vᵀ from the eigen-decomposition G̃G̃ᵀ = VΛVᵀ of the T×T Gram matrix — so the aligned
/// system has condition number 1, and the update is the sum of Ĝ's rows. A step is three launches (Gram, the float64
/// single-thread solve with cyclic Jacobi on the device — <see cref="Backend{T}.AlignedMtlCoefficients"/>,
/// <see cref="AlignedMtlSolver"/> —, the linear combination); no host read. σ = √λ_min by default (the paper, LibMTL);
/// <c>scale=median|rmse</c> are the reference code's other modes. Eigenvalues at most λ_max·T·2⁻²³ are dropped (the
/// reference's rank test). <b>Deviation:</b> on the shared parameters' gradients (the paper's Aligned-MTL; its -UB variant
/// on the representation is not built); the reference code's optional rescaling of the heads (<c>scale_decoder_grad</c>,
/// off by default) is not offered. Maths: docs/maths.md §18.7.
/// </summary>
public sealed class AlignedMtlCombiner<T>(Backend<T> backend, int scale = AlignedMtlSolver.ScaleMin, int maxSweeps = 100)
    : GramCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Which σ: <see cref="AlignedMtlSolver.ScaleMin"/>, <see cref="AlignedMtlSolver.ScaleMedian"/> or <see cref="AlignedMtlSolver.ScaleRmse"/>.</summary>
    public int Scale { get; } = scale is >= AlignedMtlSolver.ScaleMin and <= AlignedMtlSolver.ScaleRmse ? scale
        : throw new ArgumentOutOfRangeException(nameof(scale), scale, "Aligned-MTL's scale must be ScaleMin, ScaleMedian or ScaleRmse.");

    /// <summary>The most Jacobi sweeps per step.</summary>
    public int MaxSweeps { get; } = maxSweeps > 0 ? maxSweeps : throw new ArgumentOutOfRangeException(nameof(maxSweeps), maxSweeps, "max-sweeps must be positive.");

    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => AlignedMtlSolver.WorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.AlignedMtlCoefficients(gram, tasks, taskWeights, Scale, MaxSweeps, workspace, coefficients);

    private static readonly string[] Scales = ["min", "median", "rmse"];

    /// <summary>The registry entry <c>aligned-mtl</c>.</summary>
    public static MethodDescriptor Method { get; } = new("aligned-mtl",
        "align the task gradients to orthogonal rows of equal norm σ (eigen-decomposition of the Gram matrix, float64, on the device), then sum",
        "Senushkin et al. 2023 (Independent Component Alignment)", MethodNeeds.SharedGradients,
        [
            MethodOption.Choice("scale", "min", "σ: √λ_min (the paper, LibMTL), √median λ or √mean λ (the reference code's modes)", Scales),
            MethodOption.Integer("max-sweeps", 100, "the most cyclic Jacobi sweeps per step", min: 1),
        ],
        gradient: c => new AlignedMtlCombiner<float>(c.Backend, Array.IndexOf(Scales, c.Arguments.Choice("scale")), c.Arguments.Integer("max-sweeps")));
}
