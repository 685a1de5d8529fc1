using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// RLW, random loss weighting (Lin et al. 2021, "Reasonable Effectiveness of Random Weighting"; LibMTL's <c>RLW</c>):
/// every step draws z ~ N(0, I_T) and weights the losses by λ = softmax(z), so λ is positive, sums to 1 and is, in
/// expectation, 1/T per task (the normal is symmetric). The draws come from <see cref="CounterRandom"/> keyed by the
/// run's seed and the step's index on this weighting, computed on the device by one tiny kernel: no host read, the
/// same numbers on every backend, every run and every rank of a data-parallel job. Resuming from a checkpoint starts
/// the step index at 0 again (the draws are then those of a new run with the same seed). Maths: docs/maths.md §18.4.
/// Kernel: <see cref="Backend{T}.RandomSoftmaxWeights"/>.
/// </summary>
public sealed class RandomLossWeighting<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly ulong _seed;
    private long _step;

    /// <summary>RLW for <paramref name="tasks"/> tasks with the stream of <paramref name="seed"/>; equal weights 1/T until the first update.</summary>
    public RandomLossWeighting(Backend<T> backend, int tasks, int seed) : base(backend, tasks)
    {
        _seed = CounterRandom.Mix(unchecked((ulong)seed) ^ 0x524C57UL);   // "RLW": a stream apart from other seeded methods'
        SetAll(1.0 / tasks);
    }

    /// <summary>Draws made so far (the next step uses draw number <see cref="Steps"/>).</summary>
    public long Steps => _step;

    /// <inheritdoc/>
    public override void Update(View<T> taskLosses) => Backend.RandomSoftmaxWeights(_seed, _step++, Weights);

    /// <summary>The registry entry <c>rlw</c>.</summary>
    public static MethodDescriptor Method { get; } = new("rlw",
        "random weights every step: λ = softmax(z), z ~ N(0, I), seeded", "Lin et al. 2021 (random loss weighting)", MethodNeeds.None, [],
        weighting: c => new RandomLossWeighting<float>(c.Backend, c.Tasks, c.Seed));
}
