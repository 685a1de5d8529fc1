using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// GradVac, gradient vaccine (Wang et al. 2021, "Gradient Vaccine", ICLR; LibMTL <c>GradVac</c> at whole-model
/// granularity): PCGrad's loop with adaptive targets — for each task i and each other task j (seeded random order), when
/// the cosine ρ of the partly corrected g̃ᵢ' with the original g̃ⱼ is below the pair's target φ̂ᵢⱼ, add the multiple of
/// g̃ⱼ that raises it to φ̂ᵢⱼ exactly; the targets are exponential moving averages of the observed cosines,
/// φ̂ ← (1 − β)φ̂ + βρ (option <c>beta</c>, 0.5 as LibMTL), starting at 0 (so the first step is PCGrad); the update is
/// Σᵢ g̃ᵢ'. One float64 single-thread solve on the Gram matrix (<see cref="Backend{T}.GradVacCoefficients"/>,
/// <see cref="GradVacSolver"/>), the targets and the step count (which draws each step's order) kept in its device workspace
/// between steps: no host read. They are the method's state (<see cref="IMethodState{T}"/>, float64:
/// <c>method.gradvac.targets</c>, <c>.steps</c>): put back when a step is skipped for a non-finite gradient, saved in
/// checkpoints and restored on resume, so a resumed run continues exactly. Allocated at construction for
/// T tasks (the constructor's <c>tasks</c>); another task count is refused.
/// <b>Deviations:</b> LibMTL adds 1e-8 to the denominators of ρ and of the correction (not scale-invariant); here a zero
/// norm gives ρ = 0 and no correction instead. Only the whole-model granularity (LibMTL's default <c>group_type</c> 0;
/// the paper applies it per layer as well).
/// Maths: docs/maths.md §18.9.
/// </summary>
public sealed class GradVacCombiner<T> : GramCombiner<T>, IMethodState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly (string Name, View<double> Values)[] _named;

    /// <summary>GradVac for <paramref name="tasks"/> tasks.</summary>
    /// <param name="backend">The device.</param>
    /// <param name="tasks">T (the targets are T × T).</param>
    /// <param name="beta">The EMA rate β of the targets, in [0, 1] (LibMTL's <c>GradVac_beta</c>, 0.5).</param>
    /// <param name="seed">The seed of the order of the other tasks.</param>
    public GradVacCombiner(Backend<T> backend, int tasks, double beta = 0.5, int seed = 0) : base(backend)
    {
        Check.Positive(tasks, nameof(tasks));
        Beta = beta is >= 0 and <= 1 ? beta : throw new ArgumentOutOfRangeException(nameof(beta), beta, "GradVac's beta must lie in [0, 1].");
        Seed = seed;
        Tasks = tasks;
        EnsureScratch(tasks);
        _named = [("gradvac.targets", Targets), ("gradvac.steps", Workspace.Slice(GradVacSolver.StepsOffset(tasks), 1))];
    }

    /// <summary>The EMA rate β of the targets, in [0, 1].</summary>
    public double Beta { get; }

    /// <summary>The seed of the order of the other tasks.</summary>
    public int Seed { get; }

    /// <summary>T.</summary>
    public int Tasks { get; }

    /// <summary>Steps combined so far (the next step's order depends on it): read from the device, for reports and tests.</summary>
    public long Steps => (long)Backend.Read(Workspace, GradVacSolver.StepsOffset(Tasks));

    /// <summary>The order key of step <paramref name="step"/> (PCGrad's shuffle, <see cref="CombinationSolver.PcGradOrder"/>,
    /// from a stream apart; <see cref="GradVacSolver.OrderKey"/>).</summary>
    public static uint RandomKey(int seed, long step) => GradVacSolver.OrderKey(seed, step);

    /// <summary>The targets φ̂ (T × T, row i column j, on the device) after the last step.</summary>
    public View<double> Targets => Workspace.Slice(GradVacSolver.TargetsOffset(Tasks), Tasks * Tasks);

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => [];

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<double> Values)> Float64StateBuffers => _named;

    /// <inheritdoc/>
    public override void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        if (tasks != Tasks)
            throw new ArgumentException($"This GradVac combiner keeps targets for {Tasks} tasks, not {tasks}.", nameof(tasks));
        base.Combine(taskGradients, tasks, taskWeights, output);
    }

    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => GradVacSolver.WorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void ScratchAllocated(int tasks, View<double> workspace) =>   // targets 0 (the first step is PCGrad), step 0
        Backend.Upload<double>(new double[tasks * tasks + 1], workspace.Slice(GradVacSolver.TargetsOffset(tasks), tasks * tasks + 1));

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.GradVacCoefficients(gram, tasks, taskWeights, Beta, Seed, workspace, coefficients);

    /// <summary>The registry entry <c>gradvac</c>.</summary>
    public static MethodDescriptor Method { get; } = new("gradvac",
        "raise each pair's gradient cosine to an EMA target by adding the other's gradient (PCGrad with adaptive targets), then sum",
        "Wang et al. 2021 (Gradient Vaccine)", MethodNeeds.SharedGradients,
        [MethodOption.Real("beta", 0.5, "EMA rate of the cosine targets (LibMTL's GradVac_beta)", 0, 1)],
        gradient: c => new GradVacCombiner<float>(c.Backend, c.Tasks, c.Arguments.Real("beta"), c.Seed));
}
