using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// GradDrop, gradient sign dropout (Chen et al. 2020, "Just Pick a Sign"; Algorithm 1, lines 10–15): per coordinate k of
/// the shared parameters, with hᵢ = wᵢ·gᵢₖ the weighted task gradients, the positive-sign purity
/// P = ½(1 + Σᵢhᵢ / Σᵢ|hᵢ|) ∈ [0, 1]; draw U ~ U(0, 1); keep the positive hᵢ when P &gt; U and the negative ones when
/// P &lt; U; the combined gradient is Σᵢ hᵢ·(leak + (1 − leak)·Mᵢ). With leak 1 it is <c>sum</c>; with every hᵢ of one
/// sign it is <c>sum</c> too (P is 0 or 1 and U never is). U comes from <see cref="CounterRandom.UniformSingle"/>
/// keyed by the run's seed, the step index s and k: one kernel launch and one 8-byte copy, no host read, the same draws
/// on every backend and rank. s is counted on the device (the kernel reads it and writes s + 1 beside it, the copy moves
/// it back): it is the method's state (<see cref="IMethodState{T}"/>, float64 <c>method.graddrop.steps</c>), put back
/// after a step skipped for a non-finite gradient (so the next step draws what it would have drawn without the bad batch)
/// and saved in checkpoints (so a resumed run continues the draws exactly).
/// <b>Deviation:</b> the paper and LibMTL apply GradDrop to the gradients with respect to the
/// activations (LibMTL only in its <c>rep_grad</c> mode, multiplied by the sign of the input and summed over the
/// batch); here it acts on the per-task gradients of the shared parameters (as torchjd's <c>GradDrop</c> aggregator,
/// on the rows of the Jacobian), and the purity has no +1e-7 in its denominator (scale-invariant; all-zero gives ½).
/// Maths: docs/maths.md §18.5. Kernels: <see cref="Backend{T}.GradDrop"/>.
/// </summary>
public sealed class GradDropCombiner<T> : IGradientCombiner<T>, IMethodState<T>, IDisposable
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Backend<T> _backend;
    private readonly ulong _seed;
    private readonly DeviceBuffer<double> _steps;   // [s, s + 1]: the count, and the kernel's slot for the next one
    private readonly (string Name, View<double> Values)[] _named;

    /// <summary>GradDrop with the stream of <paramref name="seed"/> and leak <paramref name="leak"/> in [0, 1].</summary>
    public GradDropCombiner(Backend<T> backend, int seed = 0, double leak = 0)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Leak = leak is >= 0 and <= 1 ? leak : throw new ArgumentOutOfRangeException(nameof(leak), leak, "GradDrop's leak must lie in [0, 1].");
        _backend = backend;
        _seed = CounterRandom.Mix(unchecked((ulong)seed) ^ 0x475244524F50UL);   // "GRDROP": a stream apart
        _steps = backend.Allocate<double>(new double[2]);
        _named = [("graddrop.steps", _steps.View.Slice(0, 1))];
    }

    /// <summary>The fraction of a dropped gradient that is kept (0: dropped entirely, 1: GradDrop is <c>sum</c>).</summary>
    public double Leak { get; }

    /// <summary>Steps combined so far (the next step draws with index <see cref="Steps"/>): read from the device, for
    /// reports and tests.</summary>
    public long Steps => (long)_backend.Read(_steps.View, 0);

    /// <summary>The key of the uniforms (the seed mixed apart from other seeded methods' streams).</summary>
    public ulong Key => _seed;

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => [];

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<double> Values)> Float64StateBuffers => _named;

    /// <inheritdoc/>
    public void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        _backend.GradDrop(taskGradients, tasks, (int)output.Length, taskWeights, T.CreateTruncating(Leak), _seed, _steps.View, output);
        _backend.CopyFloat64(_steps.View.Slice(1, 1), _steps.View.Slice(0, 1));   // s ← s + 1, on the device
    }

    /// <inheritdoc/>
    public void Dispose() => _steps.Dispose();

    /// <summary>The registry entry <c>graddrop</c>.</summary>
    public static MethodDescriptor Method { get; } = new("graddrop",
        "per coordinate keep one sign, picked with probability of its purity ½(1 + Σg/Σ|g|), then sum",
        "Chen et al. 2020 (Just Pick a Sign)", MethodNeeds.SharedGradients,
        [MethodOption.Real("leak", 0, "fraction of a dropped gradient kept (LibMTL's leak; 1 = sum)", 0, 1)],
        gradient: c => new GradDropCombiner<float>(c.Backend, c.Seed, c.Arguments.Real("leak")));
}
