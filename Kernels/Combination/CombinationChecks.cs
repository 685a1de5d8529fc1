using System.Numerics;

namespace Engine.Kernels;

/// <summary>Argument checks of the combination and weighting kernels, shared by every backend so that bad input
/// fails the same way everywhere, naming the operand: each view must live on (and not have been disposed by) the
/// backend running the kernel, and have the length the shape implies.</summary>
public static class CombinationChecks
{
    /// <summary>The shape checks shared by both backends' Gram.</summary>
    public static void CheckGram<T>(Backend backend, View<T> vectors, int count, int length, View<T> gram)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, vectors, nameof(vectors));
        Check.Owned(backend, gram, nameof(gram));
        Check.Positive(count, nameof(count));
        Check.NonNegative(length, nameof(length));
        Check.Length(vectors, (long)count * length, nameof(vectors));
        Check.Length(gram, (long)count * count, nameof(gram));
    }

    /// <summary>The argument checks shared by both backends.</summary>
    public static void CheckCoefficients<T>(Backend backend, CombinationSettings settings, View<T> gram, int count, View<T> weights,
        View<double> workspace, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGramSolve(backend, gram, count, weights, workspace, Backend<T>.CombinationWorkspaceLength(count), coefficients);
        CombinationSolver.Validate(settings, count);
    }

    /// <summary>The checks of every coefficient solve from a Gram matrix (count×count), the weights (count), a float64
    /// workspace of at least <paramref name="workspaceLength"/> and the coefficients (count).</summary>
    public static void CheckGramSolve<T>(Backend backend, View<T> gram, int count, View<T> weights, View<double> workspace,
        int workspaceLength, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, gram, nameof(gram));
        Check.Owned(backend, weights, nameof(weights));
        Check.Owned(backend, workspace, nameof(workspace));
        Check.Owned(backend, coefficients, nameof(coefficients));
        Check.Positive(count, nameof(count));
        Check.Length(gram, (long)count * count, nameof(gram));
        Check.Length(weights, count, nameof(weights));
        Check.AtLeast(workspace, workspaceLength, nameof(workspace));
        Check.Length(coefficients, count, nameof(coefficients));
    }

    /// <summary>Aligned-MTL's checks: those of every Gram solve, a known scale and at least one sweep.</summary>
    public static void CheckAlignedMtl<T>(Backend backend, View<T> gram, int count, View<T> weights, int scale, int maxSweeps,
        View<double> workspace, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGramSolve(backend, gram, count, weights, workspace, AlignedMtlSolver.WorkspaceLength(count), coefficients);
        if (scale is < AlignedMtlSolver.ScaleMin or > AlignedMtlSolver.ScaleRmse)
            throw new ArgumentOutOfRangeException(nameof(scale), scale, "Aligned-MTL's scale must be ScaleMin, ScaleMedian or ScaleRmse.");
        Check.Positive(maxSweeps, nameof(maxSweeps));
    }

    /// <summary>UPGrad's checks: those of every Gram solve, a finite ε ≥ 0 and at least one iteration.</summary>
    public static void CheckUpgrad<T>(Backend backend, View<T> gram, int count, View<T> weights, double regularization, int maxIterations,
        View<double> workspace, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGramSolve(backend, gram, count, weights, workspace, UpgradSolver.WorkspaceLength(count), coefficients);
        if (!(regularization >= 0) || double.IsInfinity(regularization))
            throw new ArgumentOutOfRangeException(nameof(regularization), regularization, "UPGrad's regularization (reg-eps) must be finite and ≥ 0.");
        Check.Positive(maxIterations, nameof(maxIterations));
    }

    /// <summary>FairGrad's checks: those of every Gram solve, at least one iteration and a finite α &gt; 0.</summary>
    public static void CheckFairGrad<T>(Backend backend, View<T> gram, int count, View<T> weights, double alpha, int maxIterations,
        View<double> workspace, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGramSolve(backend, gram, count, weights, workspace, FairGradSolver.WorkspaceLength(count), coefficients);
        Check.Positive(maxIterations, nameof(maxIterations));
        if (!(alpha > 0) || double.IsInfinity(alpha))
            throw new ArgumentOutOfRangeException(nameof(alpha), alpha, "FairGrad's alpha must be finite and > 0.");
    }

    /// <summary>Nash-MTL's checks: those of every Gram solve, at least one iteration and a finite max-norm ≥ 0 (0: no clipping).</summary>
    public static void CheckNashMtl<T>(Backend backend, View<T> gram, int count, View<T> weights, int maxIterations, double maxNorm,
        View<double> workspace, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGramSolve(backend, gram, count, weights, workspace, NashMtlSolver.WorkspaceLength(count), coefficients);
        Check.Positive(maxIterations, nameof(maxIterations));
        if (!(maxNorm >= 0) || double.IsInfinity(maxNorm))
            throw new ArgumentOutOfRangeException(nameof(maxNorm), maxNorm, "Nash-MTL's max-norm must be finite and ≥ 0 (0: no clipping).");
    }

    /// <summary>GradVac's checks: those of every Gram solve and β in [0, 1].</summary>
    public static void CheckGradVac<T>(Backend backend, View<T> gram, int count, View<T> weights, double beta,
        View<double> workspace, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckGramSolve(backend, gram, count, weights, workspace, GradVacSolver.WorkspaceLength(count), coefficients);
        if (!(beta >= 0 && beta <= 1)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "GradVac's beta must lie in [0, 1].");
    }

    /// <summary>MoCo's scales: count = weights.Length tasks, the state and scales of their lengths, the settings in range.</summary>
    public static void CheckMocoScales<T>(Backend backend, View<T> gram, View<T> losses, View<T> weights, MocoParameters p,
        View<T> state, View<T> scales)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, weights, nameof(weights));
        Check.Owned(backend, state, nameof(state));
        Check.Owned(backend, scales, nameof(scales));
        int count = (int)weights.Length;
        Check.Positive(count, nameof(weights));
        Check.Length(state, MocoSolver.StateLength(count), nameof(state));
        Check.Length(scales, count + 1, nameof(scales));
        if (p.Normalization == MocoSolver.NormalizeByLoss)
        {
            Check.Owned(backend, gram, nameof(gram));
            Check.Owned(backend, losses, nameof(losses));
            Check.Length(gram, (long)count * count, nameof(gram));
            Check.Length(losses, count, nameof(losses));
        }
        CheckMoco(p);
    }

    /// <summary>MoCo's λ step: the Gram matrix (count×count), the state, count float64 of workspace, count coefficients.</summary>
    public static void CheckMocoLambda<T>(Backend backend, View<T> gram, int count, MocoParameters p, View<T> state, View<double> workspace,
        View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, gram, nameof(gram));
        Check.Owned(backend, state, nameof(state));
        Check.Owned(backend, workspace, nameof(workspace));
        Check.Owned(backend, coefficients, nameof(coefficients));
        Check.Positive(count, nameof(count));
        Check.Length(gram, (long)count * count, nameof(gram));
        Check.Length(state, MocoSolver.StateLength(count), nameof(state));
        if (workspace.Length < count) throw new ArgumentException($"workspace has {workspace.Length} elements; MoCo needs {count}.", nameof(workspace));
        Check.Length(coefficients, count, nameof(coefficients));
        CheckMoco(p);
    }

    /// <summary>MoCo's tracking pass: tracked and vectors count × length, scales count + 1, gram count × count.</summary>
    public static void CheckMocoTrack<T>(Backend backend, View<T> tracked, View<T> vectors, int count, int length, View<T> scales, View<T> gram,
        View<T> saved)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, tracked, nameof(tracked));
        Check.Owned(backend, vectors, nameof(vectors));
        Check.Owned(backend, scales, nameof(scales));
        Check.Owned(backend, gram, nameof(gram));
        Check.Positive(count, nameof(count));
        Check.NonNegative(length, nameof(length));
        Check.Length(tracked, (long)count * length, nameof(tracked));
        Check.Length(vectors, (long)count * length, nameof(vectors));
        Check.Length(scales, count + 1, nameof(scales));
        Check.Length(gram, (long)count * count, nameof(gram));
        CheckSaved(backend, saved, tracked, nameof(tracked));
    }

    /// <summary>The <c>saved</c> argument of a state-updating pass (<see cref="Backend{T}.MocoTrack"/>): empty, or a view
    /// of this backend as long as the state and apart from it (the pass reads each old value before it writes it).</summary>
    public static void CheckSaved<T>(Backend backend, View<T> saved, View<T> state, string stateName) where T : unmanaged
    {
        if (saved.IsEmpty) return;
        Check.Owned(backend, saved, nameof(saved));
        if (saved.Length != state.Length)
            throw new ArgumentException($"saved has {saved.Length} elements but {stateName} has {state.Length}: it receives {stateName} as it was.", nameof(saved));
        if (ReferenceEquals(saved.Buffer, state.Buffer) && saved.Offset < state.Offset + state.Length && state.Offset < saved.Offset + saved.Length)
            throw new ArgumentException($"saved overlaps {stateName}: the old values must go elsewhere.", nameof(saved));
    }

    /// <summary>MoCo's settings: β in (0, 1], γ &gt; 0, σ_β, σ_γ, ρ finite and ≥ 0, a known normalisation and λ update.</summary>
    public static void CheckMoco(MocoParameters p)
    {
        if (!(p.Beta > 0 && p.Beta <= 1)) throw new ArgumentOutOfRangeException(nameof(p), p.Beta, "MoCo's beta must lie in (0, 1].");
        if (!(p.Gamma > 0) || !double.IsFinite(p.Gamma)) throw new ArgumentOutOfRangeException(nameof(p), p.Gamma, "MoCo's gamma must be positive and finite.");
        if (!(p.BetaSigma >= 0) || !double.IsFinite(p.BetaSigma) || !(p.GammaSigma >= 0) || !double.IsFinite(p.GammaSigma))
            throw new ArgumentOutOfRangeException(nameof(p), "MoCo's beta-sigma and gamma-sigma must be finite and ≥ 0.");
        if (!(p.Rho >= 0) || !double.IsFinite(p.Rho)) throw new ArgumentOutOfRangeException(nameof(p), p.Rho, "MoCo's rho must be finite and ≥ 0.");
        if (p.Normalization is not (MocoSolver.NoNormalization or MocoSolver.NormalizeByLoss))
            throw new ArgumentOutOfRangeException(nameof(p), p.Normalization, "MoCo's normalization must be MocoSolver.NoNormalization or NormalizeByLoss.");
        if (p.Update is not (MocoSolver.Projection or MocoSolver.Softmax))
            throw new ArgumentOutOfRangeException(nameof(p), p.Update, "MoCo's lambda update must be MocoSolver.Projection or Softmax.");
    }

    public static void CheckDiagnostics<T>(Backend backend, View<T> gram, int count, View<T> cosines, View<int> conflicts, View<int> present)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, gram, nameof(gram));
        Check.Owned(backend, cosines, nameof(cosines));
        Check.Owned(backend, conflicts, nameof(conflicts));
        Check.Owned(backend, present, nameof(present));
        Check.Positive(count, nameof(count));
        Check.Length(gram, (long)count * count, nameof(gram));
        Check.Length(cosines, (long)count * count, nameof(cosines));
        Check.Length(conflicts, (long)count * count, nameof(conflicts));
        Check.Length(present, (long)count * count, nameof(present));
        if (ReferenceEquals(conflicts.Buffer, present.Buffer) && conflicts.Offset < present.Offset + present.Length && present.Offset < conflicts.Offset + conflicts.Length)
            throw new ArgumentException("present must not overlap conflicts.", nameof(present));
    }

    /// <summary>MGDA's normaliser: a count×count Gram matrix, losses, weights and the output of count entries, a known mode.</summary>
    public static void CheckMgdaNormalizer<T>(Backend backend, View<T> gram, int count, View<T> losses, View<T> weights,
        MgdaNormalization normalization, View<T> normalized)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, gram, nameof(gram));
        Check.Owned(backend, losses, nameof(losses));
        Check.Owned(backend, weights, nameof(weights));
        Check.Owned(backend, normalized, nameof(normalized));
        Check.Positive(count, nameof(count));
        Check.Length(gram, (long)count * count, nameof(gram));
        Check.Length(losses, count, nameof(losses));
        Check.Length(weights, count, nameof(weights));
        Check.Length(normalized, count, nameof(normalized));
        if (!Check.IsDefined(normalization)) throw new ArgumentOutOfRangeException(nameof(normalization), normalization, "Unknown MGDA normalization.");
    }

    public static void CheckLossBalanced<T>(Backend backend, View<T> losses, T minLoss, View<T> weights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, losses, nameof(losses));
        Check.Owned(backend, weights, nameof(weights));
        Check.Positive(losses.Length, nameof(losses));
        Check.SameLength(losses, nameof(losses), weights, nameof(weights));
        if (!(minLoss > T.Zero) || !T.IsFinite(minLoss))
            throw new ArgumentOutOfRangeException(nameof(minLoss), minLoss, "minLoss must be positive and finite.");
    }

    /// <summary>FAMO's operands: losses and weights of one length T ≥ 1, a state of <see cref="FamoSolver.StateLength"/>(T),
    /// all on <paramref name="backend"/>; a positive finite learning rate, γ, ε and m finite with γ, ε ≥ 0, β₁, β₂ in [0, 1),
    /// ε_Adam &gt; 0.</summary>
    public static void CheckFamo<T>(Backend backend, View<T> losses, FamoParameters p, View<T> state, View<T> weights, int phase = 0)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (phase is < FamoSolver.LogitsThenWeights or > FamoSolver.LogitsOnly)
            throw new ArgumentOutOfRangeException(nameof(phase), phase, "FAMO's phase must be FamoSolver.LogitsThenWeights, WeightsOnly or LogitsOnly.");
        Check.Owned(backend, losses, nameof(losses));
        Check.Owned(backend, state, nameof(state));
        Check.Owned(backend, weights, nameof(weights));
        Check.Positive(losses.Length, nameof(losses));
        Check.SameLength(losses, nameof(losses), weights, nameof(weights));
        Check.Length(state, FamoSolver.StateLength((int)losses.Length), nameof(state));
        if (!(p.LearningRate > 0) || !double.IsFinite(p.LearningRate))
            throw new ArgumentOutOfRangeException(nameof(p), p.LearningRate, "FAMO's learning rate must be positive and finite.");
        if (!(p.WeightDecay >= 0) || !double.IsFinite(p.WeightDecay))
            throw new ArgumentOutOfRangeException(nameof(p), p.WeightDecay, "FAMO's weight decay γ must be finite and ≥ 0.");
        if (!(p.Epsilon >= 0) || !double.IsFinite(p.Epsilon))
            throw new ArgumentOutOfRangeException(nameof(p), p.Epsilon, "FAMO's ε must be finite and ≥ 0.");
        if (!double.IsFinite(p.MinLoss)) throw new ArgumentOutOfRangeException(nameof(p), p.MinLoss, "FAMO's min-loss must be finite.");
        if (!(p.Beta1 >= 0 && p.Beta1 < 1) || !(p.Beta2 >= 0 && p.Beta2 < 1))
            throw new ArgumentOutOfRangeException(nameof(p), (p.Beta1, p.Beta2), "FAMO's Adam betas must lie in [0, 1).");
        if (!(p.AdamEpsilon > 0) || !double.IsFinite(p.AdamEpsilon))
            throw new ArgumentOutOfRangeException(nameof(p), p.AdamEpsilon, "FAMO's Adam ε must be positive and finite.");
    }

    /// <summary>STCH's operands: losses and weights of one length T ≥ 1, a state of T + 2, all on <paramref name="backend"/>;
    /// μ positive and finite, W ≥ 0.</summary>
    public static void CheckStch<T>(Backend backend, View<T> losses, T mu, int warmupEpochs, View<T> state, View<T> weights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, losses, nameof(losses));
        Check.Owned(backend, state, nameof(state));
        Check.Owned(backend, weights, nameof(weights));
        Check.Positive(losses.Length, nameof(losses));
        Check.SameLength(losses, nameof(losses), weights, nameof(weights));
        Check.Length(state, losses.Length + 2, nameof(state));
        if (!(mu > T.Zero) || !T.IsFinite(mu)) throw new ArgumentOutOfRangeException(nameof(mu), mu, "STCH's μ must be positive and finite.");
        ArgumentOutOfRangeException.ThrowIfNegative(warmupEpochs);
    }

    /// <summary>A weight vector of at least one task on <paramref name="backend"/>.</summary>
    public static void CheckWeights<T>(Backend backend, View<T> weights) where T : unmanaged
    {
        Check.Owned(backend, weights, nameof(weights));
        Check.Positive(weights.Length, nameof(weights));
    }

    /// <summary>RLW's draw: the weights (≥ 1) and its one-element float64 step count, on the backend.</summary>
    public static void CheckRandomSoftmax<T>(Backend backend, View<double> steps, View<T> weights) where T : unmanaged
    {
        CheckWeights(backend, weights);
        Check.Owned(backend, steps, nameof(steps));
        Check.Length(steps, 1, nameof(steps));
    }

    /// <summary>ExcessMTL's risk pass: gradients [T × P] and the accumulated squares of the same length, T ≥ 1 risks, all on
    /// <paramref name="backend"/>.</summary>
    public static void CheckExcessRisks<T>(Backend backend, View<T> taskGradients, int tasks, View<T> squaredSums, View<T> risks, View<T> saved)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSaved(backend, saved, squaredSums, nameof(squaredSums));
        Check.Owned(backend, taskGradients, nameof(taskGradients));
        Check.Owned(backend, squaredSums, nameof(squaredSums));
        Check.Owned(backend, risks, nameof(risks));
        Check.Positive(tasks, nameof(tasks));
        Check.Length(risks, tasks, nameof(risks));
        Check.SameLength(taskGradients, nameof(taskGradients), squaredSums, nameof(squaredSums));
        if (taskGradients.Length % tasks != 0)
            throw new ArgumentException($"taskGradients has {taskGradients.Length} elements, not a multiple of the {tasks} tasks.", nameof(taskGradients));
        if (taskGradients.Length / tasks > int.MaxValue)
            throw new ArgumentException($"ExcessMTL's rows of {taskGradients.Length / tasks} elements exceed int.MaxValue.", nameof(taskGradients));
    }

    /// <summary>ExcessMTL's weight update: risks and weights of one length T ≥ 1, a state of
    /// <see cref="ExcessMtlSolver.StateLength"/>, a positive finite step size.</summary>
    public static void CheckExcessMtl<T>(Backend backend, View<T> risks, View<T> state, View<T> weights, double stepSize)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, risks, nameof(risks));
        Check.Owned(backend, state, nameof(state));
        Check.Owned(backend, weights, nameof(weights));
        Check.Positive(risks.Length, nameof(risks));
        Check.SameLength(risks, nameof(risks), weights, nameof(weights));
        Check.Length(state, ExcessMtlSolver.StateLength((int)risks.Length), nameof(state));
        if (!(stepSize > 0) || !double.IsFinite(stepSize))
            throw new ArgumentOutOfRangeException(nameof(stepSize), stepSize, "ExcessMTL's robust step size must be positive and finite.");
    }

    /// <summary>GradNorm's checks: squared norms and losses of one length T, a state of <see cref="GradNormSolver.StateLength"/>,
    /// α finite ≥ 0, a positive finite learning rate, Adam's β in [0, 1), ε &gt; 0, a known optimizer and parameterization.</summary>
    public static void CheckGradNorm<T>(Backend backend, View<T> squaredNorms, View<T> losses, View<T> state, GradNormSettings s)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, squaredNorms, nameof(squaredNorms));
        Check.Owned(backend, losses, nameof(losses));
        Check.Owned(backend, state, nameof(state));
        Check.Positive(losses.Length, nameof(losses));
        Check.SameLength(losses, nameof(losses), squaredNorms, nameof(squaredNorms));
        Check.Length(state, GradNormSolver.StateLength(losses.Length), nameof(state));
        if (!(s.Alpha >= 0) || double.IsInfinity(s.Alpha)) throw new ArgumentOutOfRangeException(nameof(s), s.Alpha, "GradNorm's alpha must be finite and ≥ 0.");
        if (!(s.LearningRate > 0) || double.IsInfinity(s.LearningRate))
            throw new ArgumentOutOfRangeException(nameof(s), s.LearningRate, "GradNorm's learning rate must be positive and finite.");
        if (!(s.Beta1 >= 0 && s.Beta1 < 1) || !(s.Beta2 >= 0 && s.Beta2 < 1) || !(s.Epsilon > 0))
            throw new ArgumentOutOfRangeException(nameof(s), "GradNorm's Adam needs β₁, β₂ in [0, 1) and ε > 0.");
        if (s.Optimizer is not (GradNormSolver.Adam or GradNormSolver.Sgd) || s.Parameterization is not (GradNormSolver.Paper or GradNormSolver.Softmax))
            throw new ArgumentOutOfRangeException(nameof(s), "GradNorm's optimizer must be Adam or Sgd and its parameterization Paper or Softmax.");
    }

    public static void CheckUncertainty<T>(Backend backend, View<T> losses, View<T> logVariances, View<T> weights, View<T> logVarianceGradients, View<T> totalLoss,
        int sign = -1)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        if (sign is not (1 or -1)) throw new ArgumentOutOfRangeException(nameof(sign), sign, "sign must be +1 (IMTL-L) or -1 (uncertainty).");
        Check.Owned(backend, losses, nameof(losses));
        Check.Owned(backend, logVariances, nameof(logVariances));
        Check.Owned(backend, weights, nameof(weights));
        Check.Owned(backend, logVarianceGradients, nameof(logVarianceGradients));
        Check.Owned(backend, totalLoss, nameof(totalLoss));
        Check.Positive(losses.Length, nameof(losses));
        Check.SameLength(losses, nameof(losses), logVariances, nameof(logVariances));
        Check.SameLength(losses, nameof(losses), weights, nameof(weights));
        Check.SameLength(losses, nameof(losses), logVarianceGradients, nameof(logVarianceGradients));
        if (!totalLoss.IsEmpty) Check.Length(totalLoss, 1, nameof(totalLoss));
    }

    /// <summary>The shape checks of LinearCombination.</summary>
    /// <summary>The checks of DB-MTL's three kernels (<see cref="Backend{T}.LogLossWeights"/>, <see cref="Backend{T}.DbMtlAverage"/>,
    /// <see cref="Backend{T}.DbMtlCoefficients"/>).</summary>
    public static void CheckLogLoss<T>(Backend backend, View<T> losses, double epsilon, View<T> weights)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, losses, nameof(losses));
        Check.Owned(backend, weights, nameof(weights));
        Check.Positive(losses.Length, nameof(losses));
        Check.SameLength(losses, nameof(losses), weights, nameof(weights));
        if (!(epsilon >= 0) || !double.IsFinite(epsilon)) throw new ArgumentOutOfRangeException(nameof(epsilon), epsilon, "ε must be finite and ≥ 0.");
    }

    /// <inheritdoc cref="CheckLogLoss"/>
    public static void CheckDbMtlAverage<T>(Backend backend, View<T> vectors, int count, int length, View<T> weights, View<T> steps,
        double beta, double betaSigma, View<T> average, View<T> squaredNorms, View<T> saved) where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckSaved(backend, saved, average, nameof(average));
        Check.Owned(backend, squaredNorms, nameof(squaredNorms));
        Check.Owned(backend, vectors, nameof(vectors));
        Check.Owned(backend, weights, nameof(weights));
        Check.Owned(backend, steps, nameof(steps));
        Check.Owned(backend, average, nameof(average));
        Check.Positive(count, nameof(count));
        Check.NonNegative(length, nameof(length));
        Check.Length(vectors, (long)count * length, nameof(vectors));
        Check.Length(weights, count, nameof(weights));
        Check.Length(steps, 1, nameof(steps));
        Check.Length(average, (long)count * length, nameof(average));
        Check.Length(squaredNorms, count, nameof(squaredNorms));
        if (!(beta >= 0 && beta <= 1)) throw new ArgumentOutOfRangeException(nameof(beta), beta, "DB-MTL's beta must lie in [0, 1].");
        if (!(betaSigma >= 0) || !double.IsFinite(betaSigma)) throw new ArgumentOutOfRangeException(nameof(betaSigma), betaSigma, "DB-MTL's beta-sigma must be finite and ≥ 0.");
    }

    /// <inheritdoc cref="CheckLogLoss"/>
    public static void CheckDbMtlCoefficients<T>(Backend backend, View<T> squaredNorms, int count, View<T> steps, View<T> coefficients)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, squaredNorms, nameof(squaredNorms));
        Check.Owned(backend, steps, nameof(steps));
        Check.Owned(backend, coefficients, nameof(coefficients));
        Check.Positive(count, nameof(count));
        Check.Length(squaredNorms, count, nameof(squaredNorms));
        Check.Length(steps, 1, nameof(steps));
        Check.Length(coefficients, count, nameof(coefficients));
    }

    public static void CheckLinearCombination<T>(Backend backend, View<T> vectors, int count, int length, View<T> coefficients, View<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        Check.Owned(backend, vectors, nameof(vectors));
        Check.Owned(backend, coefficients, nameof(coefficients));
        Check.Owned(backend, output, nameof(output));
        Check.Positive(count, nameof(count));
        Check.NonNegative(length, nameof(length));
        Check.Length(vectors, (long)count * length, nameof(vectors));
        Check.Length(coefficients, count, nameof(coefficients));
        Check.Length(output, length, nameof(output));
    }

    public static void CheckGradDrop<T>(Backend backend, View<T> vectors, int count, int length, View<T> weights, double leak,
        View<double> steps, View<T> output)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        CheckLinearCombination(backend, vectors, count, length, weights, output);
        Check.Owned(backend, steps, nameof(steps));
        Check.Length(steps, 2, nameof(steps));
        if (!(leak >= 0 && leak <= 1))
            throw new ArgumentOutOfRangeException(nameof(leak), leak, "GradDrop's leak must lie in [0, 1].");
    }
}
