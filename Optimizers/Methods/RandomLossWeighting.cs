using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// RLW, random loss weighting (Lin et al. 2021, "Reasonable Effectiveness of Random Weighting"; LibMTL's <c>RLW</c>):
/// every step draws z ~ N(0, I_T) and weights the losses by λ = softmax(z), so λ is positive, sums to 1 and is, in
/// expectation, 1/T per task (the normal is symmetric). The draws come from <see cref="CounterRandom"/> keyed by the
/// run's seed and the step's index on this weighting, computed on the device by one tiny kernel: no host read, the
/// same numbers on every backend, every run and every rank of a data-parallel job. The step index is counted on the
/// device by the same kernel; it is the method's state (<see cref="IMethodState{T}"/>, float64 <c>method.rlw.steps</c>):
/// put back after a step skipped for a non-finite gradient and saved in checkpoints, so a resumed run continues the
/// draws exactly. Maths: docs/maths.md §18.4. Kernel: <see cref="Backend{T}.RandomSoftmaxWeights"/>.
/// </summary>
public sealed class RandomLossWeighting<T> : TaskWeighting<T>, IMethodState<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ulong _seed;
    private readonly DeviceBuffer<double> _steps;
    private readonly (string Name, View<double> Values)[] _named;

    /// <summary>RLW for <paramref name="tasks"/> tasks with the stream of <paramref name="seed"/>; equal weights 1/T until the first update.</summary>
    public RandomLossWeighting(Backend<T> backend, int tasks, int seed) : base(backend, tasks)
    {
        _seed = CounterRandom.Mix(unchecked((ulong)seed) ^ 0x524C57UL);   // "RLW": a stream apart from other seeded methods'
        _steps = backend.Allocate<double>(new double[1]);
        _named = [("rlw.steps", _steps.View)];
        SetAll(1.0 / tasks);
    }

    /// <summary>Draws made so far (the next step uses draw number <see cref="Steps"/>): read from the device, for reports
    /// and tests.</summary>
    public long Steps => (long)Backend.Read(_steps.View, 0);

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => [];

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<double> Values)> Float64StateBuffers => _named;

    /// <inheritdoc/>
    public override void Update(View<T> taskLosses) => Backend.RandomSoftmaxWeights(_seed, _steps.View, Weights);

    /// <inheritdoc/>
    public override void Dispose()
    {
        _steps.Dispose();
        base.Dispose();
    }

    /// <summary>The registry entry <c>rlw</c>.</summary>
    public static MethodDescriptor Method { get; } = new("rlw",
        "random weights every step: λ = softmax(z), z ~ N(0, I), seeded", "Lin et al. 2021 (random loss weighting)", MethodNeeds.None, [],
        weighting: c => new RandomLossWeighting<float>(c.Backend, c.Tasks, c.Seed));
}
