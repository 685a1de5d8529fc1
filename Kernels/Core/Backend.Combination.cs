namespace Engine.Kernels;

/// <summary>How the per-task gradients of the shared parameters are combined into one gradient.
/// Every method's result is <c>Σₖ aₖ gₖ</c>; only the coefficients <c>a</c> differ, and they are computed
/// from the Gram matrix <c>G = [gᵢ·gⱼ]</c> alone (see <c>docs/maths.md</c> §14).</summary>
public enum CombinationMethod
{
    /// <summary><c>Σᵢ wᵢ gᵢ</c>.</summary>
    Sum = 0,
    /// <summary>Every other task's gradient is projected onto the plane normal to the reference task's
    /// gradient (always, conflict or not), then the weighted sum is taken.</summary>
    Projection = 1,
    /// <summary>PCGrad (Yu et al. 2020): projection only on conflict, against the other tasks' original
    /// gradients in a seeded random order, then summed or averaged.</summary>
    PcGrad = 2,
    /// <summary>MGDA-UB (Sener &amp; Koltun 2018): the min-norm point of the convex hull of the task gradients.</summary>
    Mgda = 3,
    /// <summary>CAGrad (Liu et al. 2021), conflict-averse gradient descent with radius parameter c.</summary>
    CaGrad = 4,
}

/// <summary>What PCGrad does with the projected gradients.</summary>
public enum PcGradReduction
{
    /// <summary><c>Σᵢ gᵢ'</c> (the paper's and the reference implementation's choice).</summary>
    Sum = 0,
    /// <summary><c>(1/T)·Σᵢ gᵢ'</c>.</summary>
    Mean = 1,
}

/// <summary>How CAGrad rescales its direction <c>d = g₀ + (c‖g₀‖/‖g_w‖)·g_w</c> (the reference code's <c>rescale</c> flag).</summary>
public enum CaGradRescale
{
    /// <summary>No rescaling (<c>rescale=0</c>).</summary>
    None = 0,
    /// <summary>Divide by <c>1 + c²</c> (<c>rescale=1</c>, the reference code's default).</summary>
    OnePlusCSquared = 1,
    /// <summary>Divide by <c>1 + c</c> (<c>rescale=2</c>).</summary>
    OnePlusC = 2,
}

/// <summary>Hyper-parameters of one <see cref="Backend{T}.CombinationCoefficients"/> launch.</summary>
/// <param name="Method">The combination method.</param>
/// <param name="Reduction">PCGrad only: sum or mean of the projected gradients.</param>
/// <param name="ReferenceTask">Projection only: the task whose gradient the others are made orthogonal to.</param>
/// <param name="C">CAGrad only: the radius c ≥ 0 of the ball around the mean gradient (c = 0 gives the mean).</param>
/// <param name="Rescale">CAGrad only: how the direction is rescaled.</param>
/// <param name="MaxIterations">MGDA-UB and CAGrad: the most Frank–Wolfe iterations.</param>
/// <param name="Tolerance">MGDA-UB and CAGrad: stop once the Frank–Wolfe duality gap is at most
/// <c>Tolerance·max Gᵢᵢ</c> (relative, so scaling every gradient changes nothing; all-zero gradients stop at once).</param>
/// <param name="ZeroNormSquared">Zero-norm guard: a gradient whose squared norm is at most this is treated as zero
/// (nothing is projected onto or against it).</param>
public readonly record struct CombinationSettings(
    CombinationMethod Method,
    PcGradReduction Reduction = PcGradReduction.Sum,
    int ReferenceTask = 0,
    double C = 0.5,
    CaGradRescale Rescale = CaGradRescale.OnePlusCSquared,
    int MaxIterations = 1000,
    double Tolerance = 1e-12,
    double ZeroNormSquared = 1e-20);

public abstract partial class Backend<T>
{
    /// <summary>
    /// Gram matrix of <paramref name="count"/> vectors of length <paramref name="length"/> stored as rows of
    /// <paramref name="vectors"/>: <c>gram[i, j] = vᵢ·vⱼ</c> (count×count) in one pass over the vectors.
    /// </summary>
    public abstract void Gram(View<T> vectors, int count, int length, View<T> gram);

    /// <summary><c>output (+)= Σᵢ coefficients[i]·vᵢ</c>, the coefficients read on the device.</summary>
    public abstract void LinearCombination(View<T> vectors, int count, int length, View<T> coefficients, View<T> output, bool accumulate);

    /// <summary>Float64 elements of the workspace <see cref="CombinationCoefficients"/> needs for <paramref name="count"/> tasks.</summary>
    public static int CombinationWorkspaceLength(int count) => 2 * count * count + 4 * count + 1;

    /// <summary>
    /// The combination coefficients <c>a</c> (count) such that <c>Σₖ aₖ gₖ</c> is the combined gradient of
    /// <paramref name="settings"/>' method, computed on the device from the Gram matrix
    /// <paramref name="gram"/> (count×count) and the task weights <paramref name="weights"/> (count, ≥ 0) alone.
    /// The methods act on the weighted gradients <c>wᵢgᵢ</c> (their Gram matrix is <c>wᵢwⱼGᵢⱼ</c>); projections do not depend on
    /// a positive weight's size, and a task of weight 0 drops out entirely (nothing is projected against it).
    /// <paramref name="seed"/> and the step count s that PCGrad keeps in the workspace (<see cref="CombinationSolver.StepsOffset"/>;
    /// zero it once, the kernel counts it) choose PCGrad's random order, <see cref="CombinationSolver.StepKey"/>(seed, s).
    /// <paramref name="workspace"/>: <see cref="CombinationWorkspaceLength"/> float64 elements (solver state, kept in
    /// float64 on every device). A single-thread kernel: T is small.
    /// </summary>
    public abstract void CombinationCoefficients(CombinationSettings settings, View<T> gram, int count, View<T> weights,
        int seed, View<double> workspace, View<T> coefficients);

    /// <summary>MGDA's gradient normalisation (Sener &amp; Koltun 2018): <c>normalized[i] = weights[i]/cᵢ</c> with cᵢ = 1, ‖gᵢ‖ = √Gᵢᵢ,
    /// Lᵢ or Lᵢ‖gᵢ‖ (<see cref="MgdaNormalizer"/>, float64, one thread); a cᵢ that is not positive and finite counts as 1.</summary>
    public abstract void MgdaNormalizedWeights(View<T> gram, int count, View<T> losses, View<T> weights, MgdaNormalization normalization,
        View<T> normalized);

    /// <summary>
    /// Diagnostics from a Gram matrix (count×count): <c>cosines[i, j] = Gᵢⱼ/√(GᵢᵢGⱼⱼ)</c> (0 when either norm is zero),
    /// for i ≠ j <c>conflicts[i, j] += 1</c> when <c>Gᵢⱼ &lt; 0</c> (a running count of conflicting steps), and
    /// <c>present[i, j] += 1</c> when both norms are non-zero (the same test that gives the cosine: a running count of the
    /// steps whose cosine is defined, over which a mean of the cosines is taken; a task with no labelled row in a batch
    /// has a zero row and is absent).
    /// </summary>
    public abstract void GradientDiagnostics(View<T> gram, int count, View<T> cosines, View<int> conflicts, View<int> present);

    /// <summary>Loss-balanced task weights from the device-resident task losses:
    /// <c>wᵢ = (1/Lᵢ)/Σⱼ(1/Lⱼ)</c>, each loss clamped below at <paramref name="minLoss"/> (&gt; 0) so that a zero loss
    /// gives a finite weight.</summary>
    public abstract void LossBalancedWeights(View<T> losses, T minLoss, View<T> weights);

    /// <summary>
    /// Uncertainty weighting (Kendall et al. 2018, common form <c>L = Σᵢ exp(−sᵢ)·Lᵢ + sᵢ</c>) from the device-resident
    /// task losses and log-variances s: <c>weights[i] = exp(−sᵢ)</c>, <c>logVarianceGradients[i] (+)= 1 − exp(−sᵢ)·Lᵢ</c>,
    /// and, when <paramref name="totalLoss"/> is not empty, <c>totalLoss[0] = Σᵢ exp(−sᵢ)·Lᵢ + sᵢ</c>.
    /// </summary>
    /// <remarks>With <paramref name="sign"/> = +1 the same kernel computes IMTL-L's learned loss scales (Liu et al. 2021,
    /// <c>L = Σᵢ exp(sᵢ)·Lᵢ − sᵢ</c>): <c>weights[i] = exp(sᵢ)</c>, gradient <c>exp(sᵢ)·Lᵢ − 1</c>; in general
    /// <c>weights[i] = exp(sign·sᵢ)</c>, gradient <c>−sign·(1 − exp(sign·sᵢ)·Lᵢ)</c>, total <c>Σᵢ exp(sign·sᵢ)·Lᵢ − sign·sᵢ</c>.</remarks>
    public abstract void UncertaintyWeights(View<T> losses, View<T> logVariances, View<T> weights,
        View<T> logVarianceGradients, bool accumulate, View<T> totalLoss, int sign = -1);

    /// <summary>GLS, the geometric loss strategy (Chennupati et al. 2019): the weights whose Σ wᵢLᵢ has the gradient of
    /// the geometric mean G = (Πⱼ Lⱼ)^{1/T}, <c>wᵢ = G/(T·Lᵢ)</c>, each loss clamped below at <paramref name="minLoss"/>
    /// (&gt; 0) and G computed as exp(mean log Lⱼ) in float64. A NaN loss makes every weight NaN (as loss-balanced).</summary>
    public abstract void GeometricMeanWeights(View<T> losses, T minLoss, View<T> weights);

    /// <summary>RLW, random loss weighting (Lin et al. 2021): <c>w = softmax(z)</c> with zᵢ ~ N(0, 1) drawn by
    /// <see cref="CounterRandom.Normal"/> from (<paramref name="seed"/>, s, i), s = <c>steps[0]</c> (a whole float64, read
    /// on the device), then <c>steps[0] = s + 1</c> (one thread: no one else reads it): the same numbers on every backend
    /// and every run, a fresh draw each step, the count device state that needs no host read.</summary>
    public abstract void RandomSoftmaxWeights(ulong seed, View<double> steps, View<T> weights);

    /// <summary>STCH, smooth Tchebycheff scalarization (Lin et al. 2024) as LibMTL runs it, from the device-resident task
    /// losses and <paramref name="state"/> = [Σ warm-up-epoch losses (T), their count, epochs completed e] (float64
    /// arithmetic, one thread). e &lt; W: <c>weights[i] = 1/(Lᵢ + 1e-20)</c> (the gradient of Σ log Lᵢ); e = W: the same,
    /// and Lᵢ is added to the sums; e &gt; W: nᵢ = sumᵢ/count (the nadir point), ℓᵢ = log(Lᵢ/nᵢ + 1e-20), p = softmax(ℓ/μ),
    /// <c>weights[i] = T·pᵢ/(Lᵢ + 1e-20·nᵢ)</c> (the gradient of T·μ·log Σ exp(ℓⱼ/μ)). With
    /// <paramref name="endOfEpoch"/> only e += 1 (losses and weights are not touched).</summary>
    public abstract void StchWeights(View<T> losses, T mu, int warmupEpochs, View<T> state, View<T> weights, bool endOfEpoch);

    /// <summary>FAMO (Liu et al. 2023), one step from the device-resident task losses (<see cref="FamoSolver"/>, float64
    /// arithmetic, one thread): when <paramref name="state"/> holds the previous step's losses, one Adam step on the
    /// logits w with gradient Jᵀδ + γw (δᵢ = log(L′ᵢ − m + ε) − log(Lᵢ − m + ε), J the Jacobian of softmax; skipped when
    /// some δᵢ is not finite); then <c>weights[i] = (zᵢ/Dᵢ)/Σⱼ(zⱼ/Dⱼ)</c>, z = softmax(w), Dᵢ = Lᵢ − m + ε (all NaN when
    /// some Dᵢ ≤ 0), and the losses are stored for the next step. <paramref name="state"/>:
    /// <see cref="FamoSolver.StateLength"/>(T) elements, zero at the start.</summary>
    /// <remarks><paramref name="phase"/>: <see cref="FamoSolver.LogitsThenWeights"/> (both, as above),
    /// <see cref="FamoSolver.WeightsOnly"/> (the weights, the losses stored; no logit step) or
    /// <see cref="FamoSolver.LogitsOnly"/> (the logit step from the stored losses and <paramref name="losses"/>, the losses
    /// after the model step on the same batch; nothing stored, <paramref name="weights"/> untouched).</remarks>
    public abstract void FamoWeights(View<T> losses, FamoParameters parameters, View<T> state, View<T> weights, int phase = FamoSolver.LogitsThenWeights);

    /// <summary>GradDrop (Chen et al. 2020) over the per-task gradients <paramref name="vectors"/> (count × length), weighted
    /// by <paramref name="weights"/>: per coordinate k, with hᵢ = wᵢgᵢₖ, the purity P = ½(1 + Σhᵢ/Σ|hᵢ|) (½ when all
    /// are 0), U = <see cref="CounterRandom.UniformSingle"/>(seed, s, k), and
    /// <c>output[k] = Σᵢ hᵢ·(leak + (1 − leak)·Mᵢ)</c>, Mᵢ = [P &gt; U ∧ hᵢ &gt; 0] + [P &lt; U ∧ hᵢ &lt; 0].
    /// The step index s is <c>steps[0]</c> (a whole float64, read on the device, so a counter kept there needs no host
    /// read); the kernel writes <c>steps[1] = s + 1</c>, the next step's index, which the caller copies into
    /// <c>steps[0]</c> after the launch (<see cref="CopyFloat64"/>): two slots, because every coordinate reads s while one
    /// writes s + 1.</summary>
    public abstract void GradDrop(View<T> vectors, int count, int length, View<T> weights, T leak, ulong seed, View<double> steps, View<T> output);

    /// <summary>IMTL-G (Liu et al. 2021): the coefficients a (count) of the impartial combination Σₖ aₖgₖ from the Gram
    /// matrix and the weights (it acts on wᵢgᵢ), in float64 on the device, one thread (<see cref="ImtlSolver"/>);
    /// <paramref name="workspace"/>: <see cref="ImtlSolver.WorkspaceLength"/> elements.</summary>
    public abstract void ImtlCoefficients(View<T> gram, int count, View<T> weights, View<double> workspace, View<T> coefficients);

    /// <summary>Aligned-MTL (Senushkin et al. 2023): the coefficients a (count) of the sum of the aligned gradients
    /// σ·VΛ^{-1/2}Vᵀ·[wᵢgᵢ] from the Gram matrix and the weights, in float64 on the device, one thread (cyclic Jacobi,
    /// <see cref="AlignedMtlSolver"/>); <paramref name="scale"/>: one of <see cref="AlignedMtlSolver.ScaleMin"/>,
    /// <see cref="AlignedMtlSolver.ScaleMedian"/>, <see cref="AlignedMtlSolver.ScaleRmse"/>; at most
    /// <paramref name="maxSweeps"/> Jacobi sweeps; <paramref name="workspace"/>: <see cref="AlignedMtlSolver.WorkspaceLength"/>
    /// elements (B at [2T², 3T²) afterwards).</summary>
    public abstract void AlignedMtlCoefficients(View<T> gram, int count, View<T> weights, int scale, int maxSweeps,
        View<double> workspace, View<T> coefficients);

    /// <summary>UPGrad (Quinton &amp; Rey 2024): the coefficients a (count) of the mean of the projections of the rows wᵢgᵢ onto
    /// their dual cone, from the Gram matrix (trace-normalised, + <paramref name="regularization"/>·I) and the weights, in
    /// float64 on the device, one thread (T active-set QPs, at most <paramref name="maxIterations"/> outer steps each,
    /// <see cref="UpgradSolver"/>); <paramref name="workspace"/>: <see cref="UpgradSolver.WorkspaceLength"/> elements.</summary>
    public abstract void UpgradCoefficients(View<T> gram, int count, View<T> weights, double regularization, int maxIterations,
        View<double> workspace, View<T> coefficients);

    /// <summary>Nash-MTL (Navon et al. 2022): the coefficients a (count) of the Nash bargaining direction Σᵢ αᵢwᵢgᵢ, α &gt; 0
    /// solving G̃α = 1/α for the weighted Gram matrix G̃, then clipped to norm <paramref name="maxNorm"/> as the reference's
    /// <c>clip_grad_norm_</c> (none when 0), in float64 on the device, one thread (Newton's method, at most
    /// <paramref name="maxIterations"/> steps, <see cref="NashMtlSolver"/>); with <paramref name="update"/> false the last
    /// solve's α are reused; <paramref name="workspace"/>: <see cref="NashMtlSolver.WorkspaceLength"/> elements (zero the
    /// state at <see cref="NashMtlSolver.StateOffset"/> once).</summary>
    public abstract void NashMtlCoefficients(View<T> gram, int count, View<T> weights, int maxIterations, double maxNorm, bool update,
        View<double> workspace, View<T> coefficients);

    /// <summary>FairGrad (Ban &amp; Ji 2024): the coefficients a (count) of the α-fair update Σᵢ βᵢwᵢgᵢ, β &gt; 0 solving
    /// G̃β = β^(−1/<paramref name="alpha"/>) for the weighted Gram matrix G̃, in float64 on the device, one thread (Newton's
    /// method, at most <paramref name="maxIterations"/> steps, <see cref="FairGradSolver"/>; 0 when it does not converge);
    /// <paramref name="workspace"/>: <see cref="FairGradSolver.WorkspaceLength"/> elements.</summary>
    public abstract void FairGradCoefficients(View<T> gram, int count, View<T> weights, double alpha, int maxIterations,
        View<double> workspace, View<T> coefficients);

    /// <summary>GradVac (Wang et al. 2021): the coefficients a (count) of Σᵢ g̃ᵢ' (each g̃ᵢ = wᵢgᵢ raised to its EMA cosine
    /// targets against the others, in the order drawn from <paramref name="seed"/> and the step count) from the Gram matrix
    /// and the weights, in float64 on the device, one thread (<see cref="GradVacSolver"/>); the targets and the step count
    /// live in <paramref name="workspace"/> (<see cref="GradVacSolver.WorkspaceLength"/> elements, zero them once) and the
    /// targets are updated with rate <paramref name="beta"/>.</summary>
    public abstract void GradVacCoefficients(View<T> gram, int count, View<T> weights, double beta, int seed,
        View<double> workspace, View<T> coefficients);

    /// <summary>ExcessMTL's O(T·P) pass (He et al. 2024; <see cref="ExcessMtlReference.Risks"/>): over the unweighted task
    /// gradients [<paramref name="tasks"/> × P] of the shared parameters, the accumulated squares S ← S + g² in place (an
    /// element whose new sum is not finite keeps its old one) and <c>risks[i] = Σₚ gᵢₚ²/√(Sᵢₚ + ε)</c>, ε =
    /// <see cref="ExcessMtlSolver.Epsilon"/>, summed in float64 on the CPU path, float32 per group and atomics on ILGPU
    /// (a NaN term shows as +∞). With a non-empty <paramref name="saved"/> (as long as S) the pass also writes S as it was
    /// before this call there — the skipped-step guard's copy (as <see cref="MocoTrack"/>'s), without a pass of its own.</summary>
    public abstract void ExcessRisks(View<T> taskGradients, int tasks, View<T> squaredSums, View<T> risks, View<T> saved = default);

    /// <summary>ExcessMTL's weight update (<see cref="ExcessMtlSolver"/>, float64, one thread): at the first update the
    /// risks are kept as the tasks' scales r⁰, afterwards wᵢ ← wᵢ·exp(η·rᵢ/r⁰ᵢ), Σw = T; the weights are written to
    /// <paramref name="weights"/>. <paramref name="state"/>: <see cref="ExcessMtlSolver.StateLength"/>(T) elements.</summary>
    public abstract void ExcessMtlStep(View<T> risks, View<T> state, double stepSize, View<T> weights);
    /// <summary>MoCo (Fernando et al. 2023), the first T-sized part of a step (<see cref="MocoSolver.Scales"/>, float64, one
    /// thread): the step count in <paramref name="state"/> (<see cref="MocoSolver.StateLength"/> elements: λ, then t) goes up by
    /// one and <paramref name="scales"/> (count + 1) gets β_t·sᵢ and 1 − β_t for <see cref="MocoTrack"/>, with sᵢ = wᵢ, or
    /// wᵢLᵢ/‖gᵢ‖ from <paramref name="gram"/> and <paramref name="losses"/> under <see cref="MocoSolver.NormalizeByLoss"/>
    /// (then <paramref name="gram"/> is the count × count Gram matrix of the task gradients, read on its diagonal:
    /// ‖gᵢ‖² = gram[i, i] — the matrix the step's conflict diagnostics read too).</summary>
    public abstract void MocoScales(View<T> gram, View<T> losses, View<T> weights, MocoParameters parameters, View<T> state, View<T> scales);

    /// <summary>MoCo's tracking pass over the T × P rows: <c>tracked[i, k] = scales[T]·tracked[i, k] + scales[i]·vectors[i, k]</c>,
    /// the scales (count + 1) read on the device, and in the same pass the Gram matrix of the updated rows,
    /// <c>gram[i, j] = Σₖ tracked[i, k]·tracked[j, k]</c> (count × count, symmetric; zero when length is 0), summed as
    /// <see cref="Gram"/> sums it. One read of each row of tracked and vectors and one write of tracked; with a non-empty
    /// <paramref name="saved"/> (count × length) also one write of tracked as it was, bit for bit: the copy a skipped step
    /// puts back (<see cref="CopyIfSkipped"/>; Engine's MethodStateGuard), made by the pass that reads the old value anyway —
    /// one more write stream instead of a read and a write before the step.</summary>
    public abstract void MocoTrack(View<T> tracked, View<T> vectors, int count, int length, View<T> scales, View<T> gram, View<T> saved = default);

    /// <summary>MoCo, the second T-sized part of a step (<see cref="MocoSolver.Lambda"/>, float64, one thread): from the Gram
    /// matrix of the tracked gradients, λ ← Π_Δ(λ − γ_t(G + ρI)λ) (or its softmax) in <paramref name="state"/>, and
    /// <paramref name="coefficients"/> = λ; <paramref name="workspace"/>: count float64 elements.</summary>
    public abstract void MocoLambda(View<T> gram, int count, MocoParameters parameters, View<T> state, View<double> workspace, View<T> coefficients);
    /// <summary>DB-MTL's loss-scale balancing (Lin et al. 2023): <c>weights[i] = 1/(Lᵢ + ε)</c> from the device-resident task
    /// losses (float64 inside, one thread), so that Σ wᵢLᵢ has the gradient of Σ log(Lᵢ + ε) (LibMTL: ε = 1e-8).</summary>
    public abstract void LogLossWeights(View<T> losses, double epsilon, View<T> weights);

    /// <summary>DB-MTL's moving average of the weighted task gradients (<see cref="DbMtlReference"/>):
    /// <c>average[i, k] = g̃ + b·(average[i, k] − g̃)</c>, g̃ = wᵢ·vectors[i, k], with the rate
    /// <c>b = β/(s + 1)^σ</c>, s = <paramref name="steps"/>[0] read on the device (this kernel does not change it;
    /// <see cref="DbMtlCoefficients"/> counts the step), and in the same pass the squared norms of the new averages,
    /// <c>squaredNorms[i] = Σₖ average[i, k]²</c> (count; zero when length is 0), summed as <see cref="Gram"/> sums its
    /// diagonal. One pass over the count × length rows; with a non-empty <paramref name="saved"/> (count × length) it also
    /// writes the averages as they were there (as <see cref="MocoTrack"/>'s).</summary>
    public abstract void DbMtlAverage(View<T> vectors, int count, int length, View<T> weights, View<T> steps, double beta, double betaSigma,
        View<T> average, View<T> squaredNorms, View<T> saved = default);


    /// <summary>DB-MTL's gradient-magnitude balancing from the squared norms of the averages (count, from
    /// <see cref="DbMtlAverage"/>): <c>coefficients[i] = maxⱼ uⱼ/(uᵢ + 1e-8)</c>, uᵢ = √squaredNormsᵢ (LibMTL's 1e-8), so every
    /// average is rescaled to the largest norm; then <c>steps[0] += 1</c>. Float64, one thread.</summary>
    public abstract void DbMtlCoefficients(View<T> squaredNorms, int count, View<T> steps, View<T> coefficients);

    /// <summary>GradNorm (Chen et al. 2018): one update of the learned task weights held in <paramref name="state"/>
    /// (<see cref="GradNormSolver.StateLength"/> elements; weights of the next step at [0, T)) from the squared norms
    /// ‖∇_W Lᵢ‖² (T) of the unweighted task gradients of the shared parameters and the losses Lᵢ (T): the gradient
    /// sign(wᵢ‖∇Lᵢ‖ − Ḡ·rᵢ^α)·‖∇Lᵢ‖ of L_grad, an Adam or SGD step with its own rate, then Σw = T. Float64 inside, one
    /// thread, the same code on every backend (<see cref="GradNormSolver"/>).</summary>
    public abstract void GradNormStep(View<T> squaredNorms, View<T> losses, View<T> state, GradNormSettings settings);
}
