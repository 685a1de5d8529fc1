using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// DB-MTL's gradient-magnitude balancing, <c>db-mtl-g</c> (Lin et al. 2023, "Dual-Balancing for Multi-Task Learning",
/// arXiv 2308.12029; LibMTL <c>DB_MTL</c>): an exponential moving average ĝᵢ of each weighted task gradient g̃ᵢ = wᵢgᵢ,
/// ĝᵢ ← g̃ᵢ + bₛ(ĝᵢ − g̃ᵢ) with bₛ = β/s^σ at step s = 1, 2, … (options <c>beta</c> 0.9 and <c>beta-sigma</c> 0, LibMTL's
/// <c>DB_beta</c>, <c>DB_beta_sigma</c>; ĝ starts at 0 as LibMTL's buffer, so the first step's ĝᵢ is (1 − β)g̃ᵢ), each
/// rescaled to the largest norm: update = Σᵢ αᵢĝᵢ, αᵢ = maxⱼ‖ĝⱼ‖/(‖ĝᵢ‖ + 1e-8). With <c>db-mtl-l</c>
/// (<see cref="DbMtlLossWeighting{T}"/>, wᵢ = 1/(Lᵢ + 1e-8)) the g̃ᵢ are the gradients of log(Lᵢ + 1e-8): that pair is
/// DB-MTL, the preset <c>db-mtl</c>. A step is three launches (four on ILGPU, which zeroes the norms' atomic sums first) —
/// the moving average (<see cref="Backend{T}.DbMtlAverage"/>, one pass over the T × P averages that also sums their
/// squared norms and, in a training step, writes the old averages where the skipped-step guard keeps them:
/// <see cref="IStateSavedByItsPass{T}"/>), the coefficients (<see cref="Backend{T}.DbMtlCoefficients"/>, float64, one thread, which also counts the
/// step) and the linear combination — with no host read; the reference is
/// <see cref="DbMtlReference"/>. The averages (T × P) and the step count live on the device, allocated at construction,
/// and are saved with the step's state (<see cref="IMethodState{T}"/>, <c>method.db-mtl.average</c>, <c>.steps</c>) and
/// resumed. <b>Deviations:</b> none in the arithmetic; the step count is a float32 on the device (exact to 2²⁴ steps) and
/// the ILGPU kernel forms β/s^σ in float32. Only the shared parameters' gradients (LibMTL refuses <c>rep_grad</c> too).
/// The step's conflict diagnostics read the raw per-task gradients (one more Gram pass; this is not a
/// <see cref="GramCombiner{T}"/>). Maths: docs/maths.md §18.15.
/// </summary>
public sealed class DbMtlCombiner<T> : IGradientCombiner<T>, IMethodState<T>, IStateSavedByItsPass<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceBuffer<T> _average, _steps, _norms, _coefficients;
    private readonly (string Name, View<T> Values)[] _named;
    private View<T> _saved;   // where DbMtlAverage writes the averages as they were (the skipped-step guard's copy), when asked

    /// <summary>DB-MTL's gradient half for <paramref name="tasks"/> tasks of <paramref name="length"/> shared parameters.</summary>
    /// <param name="backend">The device.</param>
    /// <param name="tasks">T.</param>
    /// <param name="length">P, the length of each task's gradient.</param>
    /// <param name="beta">β in [0, 1], the weight of the old average (LibMTL's <c>DB_beta</c>, 0.9).</param>
    /// <param name="betaSigma">σ ≥ 0: the rate at step s is β/s^σ (LibMTL's <c>DB_beta_sigma</c>, 0).</param>
    public DbMtlCombiner(Backend<T> backend, int tasks, int length, double beta = 0.9, double betaSigma = 0)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Check.Positive(tasks, nameof(tasks));
        Check.Positive(length, nameof(length));
        Beta = beta is >= 0 and <= 1 ? beta : throw new ArgumentOutOfRangeException(nameof(beta), beta, "DB-MTL's beta must lie in [0, 1].");
        BetaSigma = betaSigma >= 0 && double.IsFinite(betaSigma) ? betaSigma
            : throw new ArgumentOutOfRangeException(nameof(betaSigma), betaSigma, "DB-MTL's beta-sigma must be finite and ≥ 0.");
        Backend = backend;
        Tasks = tasks;
        Length = length;
        _average = backend.Allocate<T>(checked(tasks * length));
        _steps = backend.Allocate<T>(1);
        _norms = backend.Allocate<T>(tasks);
        _coefficients = backend.Allocate<T>(tasks);
        backend.Fill(_average.View, T.Zero);
        backend.Fill(_steps.View, T.Zero);
        _named = [("db-mtl.average", _average.View), ("db-mtl.steps", _steps.View)];
    }

    /// <summary>The device.</summary>
    public Backend<T> Backend { get; }

    /// <summary>T.</summary>
    public int Tasks { get; }

    /// <summary>P.</summary>
    public int Length { get; }

    /// <summary>β.</summary>
    public double Beta { get; }

    /// <summary>σ.</summary>
    public double BetaSigma { get; }

    /// <summary>The moving averages ĝ (T × P, row i = task i, on the device) after the last step.</summary>
    public View<T> Average => _average.View;

    /// <summary>Steps combined so far (one element, on the device).</summary>
    public View<T> Steps => _steps.View;

    /// <summary>The coefficients αᵢ of the last step: the update was Σᵢ αᵢĝᵢ.</summary>
    public View<T> Coefficients => _coefficients.View;

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => _named;

    /// <inheritdoc/>
    public View<T> SavedByItsPass => _average.View;

    /// <inheritdoc/>
    public void SaveBeforeItsPass(View<T> saved) => _saved = saved;

    /// <inheritdoc/>
    public void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        if (tasks != Tasks || output.Length != Length)
            throw new ArgumentException($"This DB-MTL combiner holds averages for {Tasks} tasks × {Length} parameters, not {tasks} × {output.Length}.", nameof(output));
        Backend.DbMtlAverage(taskGradients, tasks, Length, taskWeights, _steps.View, Beta, BetaSigma, _average.View, _norms.View, _saved);
        Backend.DbMtlCoefficients(_norms.View, tasks, _steps.View, _coefficients.View);
        Backend.LinearCombination(_average.View, tasks, Length, _coefficients.View, output, accumulate: false);
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _average.Dispose();
        _steps.Dispose();
        _norms.Dispose();
        _coefficients.Dispose();
    }

    private const string Paper = "Lin et al. 2023 (Dual-Balancing for Multi-Task Learning)";

    /// <summary>The registry entry <c>db-mtl-g</c> (the gradient half alone).</summary>
    public static MethodDescriptor Method { get; } = new("db-mtl-g",
        "DB-MTL's gradient balancing: an EMA of each task's gradient, each rescaled to the largest norm, summed",
        Paper, MethodNeeds.SharedGradients,
        [
            MethodOption.Real("beta", 0.9, "weight of the old average, β (LibMTL's DB_beta)", 0, 1),
            MethodOption.Real("beta-sigma", 0, "the rate at step s is β/s^σ (LibMTL's DB_beta_sigma)", min: 0),
        ],
        gradient: c => new DbMtlCombiner<float>(c.Backend, c.Tasks,
            c.SharedLength > 0 ? c.SharedLength : throw new ArgumentException("db-mtl-g keeps an average per task gradient: it needs MethodContext.SharedLength.", nameof(c)),
            c.Arguments.Real("beta"), c.Arguments.Real("beta-sigma")));

    /// <summary>The preset <c>db-mtl</c>: DB-MTL (both halves, LibMTL's <c>DB_MTL</c>) by default; <c>variant=l</c> or
    /// <c>variant=g</c> for one half (the paper's ablations).</summary>
    public static MethodDescriptor Preset { get; } = new("db-mtl",
        "DB-MTL: variant both = log losses and max-norm EMA gradients (db-mtl-l+db-mtl-g, LibMTL's DB_MTL), l = log losses only, g = gradients only",
        Paper, MethodNeeds.None,
        [MethodOption.Choice("variant", "both", "both: loss-scale and gradient-magnitude balancing (LibMTL); l: log losses only; g: gradient balancing only", "both", "l", "g")],
        preset: a => a.Choice("variant") switch { "l" => "db-mtl-l", "g" => "db-mtl-g", _ => "db-mtl-l+db-mtl-g" });
}

/// <summary>
/// DB-MTL's loss-scale balancing, <c>db-mtl-l</c> (Lin et al. 2023; LibMTL <c>DB_MTL</c>'s <c>torch.log(losses+1e-8)</c>):
/// train on Σᵢ log(Lᵢ + 1e-8). Its gradient is Σᵢ ∇Lᵢ/(Lᵢ + 1e-8), so the step's weighted sum with
/// λᵢ = 1/(Lᵢ + 1e-8), recomputed every step on the device from the batch losses (<see cref="Backend{T}.LogLossWeights"/>),
/// has exactly that gradient — for the heads as for the shared parameters (as LibMTL, whose per-task backward of the log
/// losses reaches the heads too). Scaling a loss by c &gt; 0 leaves its term's gradient unchanged (up to the 1e-8).
/// Weights 1 until the first update.
/// </summary>
public sealed class DbMtlLossWeighting<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The log-loss weighting for <paramref name="tasks"/> tasks.</summary>
    public DbMtlLossWeighting(Backend<T> backend, int tasks) : base(backend, tasks) => SetAll(1.0);

    /// <inheritdoc/>
    public override void Update(View<T> taskLosses)
    {
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        Backend.LogLossWeights(taskLosses, DbMtlReference.Epsilon, Weights);
    }

    /// <summary>The registry entry <c>db-mtl-l</c>.</summary>
    public static MethodDescriptor Method { get; } = new("db-mtl-l",
        "DB-MTL's loss balancing: train on Σ log(Lᵢ + 1e-8), i.e. every step λᵢ = 1/(Lᵢ + 1e-8)",
        "Lin et al. 2023 (Dual-Balancing for Multi-Task Learning)", MethodNeeds.Losses, [],
        weighting: c => new DbMtlLossWeighting<float>(c.Backend, c.Tasks));
}
