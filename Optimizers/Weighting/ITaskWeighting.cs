using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Task weights wᵢ, kept on the device as a T-vector that the weighted loss sum and the gradient combiners read.
/// <see cref="Update"/> runs inside a step from the device-resident task losses (loss-balanced, uncertainty: one tiny
/// kernel; no host round-trip); <see cref="EndEpoch"/> runs at epoch boundaries from host-known epoch metrics
/// (dynamic weight averaging, accuracy-based: computed on the host and uploaded).
/// </summary>
public interface ITaskWeighting<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>Number of tasks T.</summary>
    int Tasks { get; }

    /// <summary>The weights (T, on the device).</summary>
    View<T> Weights { get; }

    /// <summary>Per step, from the device-resident task losses (T). Does nothing for epoch-level schemes.</summary>
    void Update(View<T> taskLosses);

    /// <summary>At the end of an epoch, from its mean task losses and accuracies (each T long; a scheme reads what it
    /// needs, the other may be empty).</summary>
    void EndEpoch(ReadOnlySpan<double> epochLosses, ReadOnlySpan<double> epochAccuracies);
}

/// <summary>The shared part of the weighting schemes: the device weight vector and a host staging array (allocated once).</summary>
public abstract class TaskWeighting<T> : ITaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceBuffer<T> _weights;
    private readonly T[] _staging;

    protected TaskWeighting(Backend<T> backend, int tasks)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Check.Positive(tasks, nameof(tasks));
        Backend = backend;
        Tasks = tasks;
        _weights = backend.Allocate<T>(tasks);
        _staging = new T[tasks];
    }

    /// <summary>The device.</summary>
    public Backend<T> Backend { get; }

    /// <inheritdoc/>
    public int Tasks { get; }

    /// <inheritdoc/>
    public View<T> Weights => _weights.View;

    /// <inheritdoc/>
    public virtual void Update(View<T> taskLosses) { }

    /// <inheritdoc/>
    public virtual void EndEpoch(ReadOnlySpan<double> epochLosses, ReadOnlySpan<double> epochAccuracies) { }

    /// <summary>Uploads host-computed weights (epoch boundaries and construction only).</summary>
    protected void SetWeights(ReadOnlySpan<double> weights)
    {
        for (int i = 0; i < Tasks; i++) _staging[i] = T.CreateTruncating(weights[i]);
        Backend.Upload<T>(_staging, _weights.View);
    }

    /// <summary>Fills the weights with one value.</summary>
    protected void SetAll(double value)
    {
        Array.Fill(_staging, T.CreateTruncating(value));
        Backend.Upload<T>(_staging, _weights.View);
    }

    /// <summary>Throws unless <paramref name="values"/> has one finite entry per task.</summary>
    protected void CheckPerTask(ReadOnlySpan<double> values, string name)
    {
        if (values.Length != Tasks)
            throw new ArgumentException($"{name} has {values.Length} entries but there are {Tasks} tasks.", name);
        foreach (double v in values)
            if (!double.IsFinite(v)) throw new ArgumentException($"{name} contains a non-finite value ({v}).", name);
    }

    /// <inheritdoc/>
    public virtual void Dispose()
    {
        _weights.Dispose();
        GC.SuppressFinalize(this);
    }
}

/// <summary>A loss weighting that also reads the step's per-task gradients of the shared parameters (GradNorm, ExcessMTL):
/// the step computes them when the weighting declares <see cref="MethodNeeds.SharedGradients"/> and calls
/// <see cref="ObserveTaskGradients"/> before the heads' gradients are scaled and the combiner runs, both reading
/// <see cref="ITaskWeighting{T}.Weights"/> after it: GradNorm leaves them as they are (its update is for the next step),
/// ExcessMTL rewrites them for this step.</summary>
public interface ITaskGradientWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>From the UNWEIGHTED task gradients [Tasks × <paramref name="length"/>] of the shared parameters and the
    /// step's losses (T), on the device; updates the weights of this step or the next (no host read).</summary>
    void ObserveTaskGradients(View<T> taskGradients, int length, View<T> taskLosses);
}
