using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// PCGrad (Yu et al. 2020, "Gradient Surgery for Multi-Task Learning"). For each task i, the other tasks j are visited in
/// a random order; when the (already partly projected) gᵢ' conflicts with the ORIGINAL gⱼ (gᵢ'·gⱼ &lt; 0) it is
/// projected: gᵢ' ← gᵢ' − (gᵢ'·gⱼ/‖gⱼ‖²)·gⱼ. Then Σᵢ gᵢ' (<see cref="PcGradReduction.Sum"/>, the paper's choice) or the
/// mean. Zero-norm guard: a gⱼ with ‖gⱼ‖² ≤ 1e-20 is never projected against. The order of step s is drawn on the device
/// from <see cref="CombinationSolver.StepKey"/>(seed, s), and s is counted on the device too, in the solver's workspace
/// (<see cref="CombinationSolver.StepsOffset"/>): no host read. The count is the method's state
/// (<see cref="IMethodState{T}"/>, float64 <c>method.pcgrad.steps</c>): put back when a step is skipped for a non-finite
/// gradient (so the next step draws the order it would have drawn without the bad batch), saved in checkpoints and
/// restored on resume (so N + M steps draw the orders of N + M uninterrupted ones). Allocated at construction for
/// T tasks (the constructor's <c>tasks</c>); another task count is refused. Maths: docs/maths.md §14.4.
/// </summary>
public sealed class PcGradCombiner<T> : GradientCombiner<T>, IMethodState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly (string Name, View<double> Values)[] _named;

    /// <summary>PCGrad for <paramref name="tasks"/> tasks.</summary>
    /// <param name="backend">The device.</param>
    /// <param name="tasks">T.</param>
    /// <param name="seed">The seed of the projection order.</param>
    /// <param name="reduction">Sum (the paper) or mean of the projected gradients.</param>
    public PcGradCombiner(Backend<T> backend, int tasks, int seed = 0, PcGradReduction reduction = PcGradReduction.Sum) : base(backend)
    {
        Check.Positive(tasks, nameof(tasks));
        Seed = seed;
        Reduction = reduction;
        Tasks = tasks;
        EnsureScratch(tasks);
        _named = [("pcgrad.steps", StepCount)];
    }

    /// <summary>The seed of the projection order.</summary>
    public int Seed { get; }

    /// <summary>Sum or mean of the projected gradients.</summary>
    public PcGradReduction Reduction { get; }

    /// <summary>T.</summary>
    public int Tasks { get; }

    /// <summary>Steps combined so far (the next step's order depends on it): read from the device, for reports and tests.</summary>
    public long Step => (long)Backend.Read(Workspace, CombinationSolver.StepsOffset(Tasks));

    /// <inheritdoc/>
    public override CombinationSettings Settings => new(CombinationMethod.PcGrad, Reduction);

    /// <summary>The random key of step <paramref name="step"/> for <paramref name="seed"/> (see <see cref="CombinationSolver.PcGradOrder"/>).</summary>
    public static uint RandomKey(int seed, long step) => CombinationSolver.StepKey(seed, step);

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => [];

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<double> Values)> Float64StateBuffers => _named;

    /// <inheritdoc/>
    public override void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        if (tasks != Tasks)
            throw new ArgumentException($"This PCGrad combiner counts steps for {Tasks} tasks, not {tasks}.", nameof(tasks));
        base.Combine(taskGradients, tasks, taskWeights, output);
    }

    /// <inheritdoc/>
    protected override int OrderSeed => Seed;

    /// <inheritdoc/>
    protected override void ScratchAllocated(int tasks, View<double> workspace) =>   // step 0: the first order is StepKey(seed, 0)
        Backend.Upload<double>([0.0], workspace.Slice(CombinationSolver.StepsOffset(tasks), 1));

    private View<double> StepCount => Workspace.Slice(CombinationSolver.StepsOffset(Tasks), 1);

    /// <summary>The registry entry <c>pcgrad</c>.</summary>
    public static MethodDescriptor Method { get; } = new("pcgrad",
        "project a task's gradient onto the normal plane of each conflicting other (random order), then sum",
        "Yu et al. 2020", MethodNeeds.SharedGradients,
        [MethodOption.Choice("reduction", "sum", "sum (the paper) or mean of the projected gradients", "sum", "mean")],
        gradient: c => new PcGradCombiner<float>(c.Backend, c.Tasks, c.Seed, c.Arguments.Choice("reduction") == "mean" ? PcGradReduction.Mean : PcGradReduction.Sum));
}
