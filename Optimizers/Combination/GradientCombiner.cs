using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// The common shape of every Gram-based combiner: a step is three launches —
/// <see cref="Backend{T}.Gram"/> (one pass over the tasks × P buffer), <see cref="Backend{T}.CombinationCoefficients"/>
/// (a tiny single-thread solve on the device) and <see cref="Backend{T}.LinearCombination"/> (one more pass).
/// Subclasses only say which method and hyper-parameters. Scratch (Gram, coefficients, float64 workspace) is
/// allocated on the first call for a task count and reused.
/// </summary>
public abstract class GradientCombiner<T> : IGradientCombiner<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private DeviceBuffer<T>? _gram, _coefficients;
    private DeviceBuffer<double>? _workspace;
    private int _tasks;

    protected GradientCombiner(Backend<T> backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Backend = backend;
    }

    /// <summary>The device the combiner runs on.</summary>
    public Backend<T> Backend { get; }

    /// <summary>The method and hyper-parameters handed to the coefficient kernel.</summary>
    public abstract CombinationSettings Settings { get; }

    /// <summary>The Gram matrix of the last <see cref="Combine"/> (tasks × tasks, on the device): feed it to a
    /// <see cref="GradientConflictMonitor{T}"/> to get diagnostics without another pass over the gradients.</summary>
    public View<T> Gram => _gram?.View ?? throw new InvalidOperationException("Combine has not run yet.");

    /// <summary>The coefficients a of the last <see cref="Combine"/>: the result was Σₖ aₖ gₖ.</summary>
    public View<T> Coefficients => _coefficients?.View ?? throw new InvalidOperationException("Combine has not run yet.");

    /// <summary>The random key of the next step (PCGrad's order); 0 for the deterministic methods.</summary>
    protected virtual uint NextRandomKey() => 0;

    /// <inheritdoc/>
    public virtual void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        CheckShapes(taskGradients, tasks, taskWeights, output);
        EnsureScratch(tasks);
        int length = output.Length;
        Backend.Gram(taskGradients, tasks, length, _gram!.View);
        Backend.CombinationCoefficients(Settings, _gram.View, tasks, taskWeights, NextRandomKey(), _workspace!.View, _coefficients!.View);
        Backend.LinearCombination(taskGradients, tasks, length, _coefficients.View, output, accumulate: false);
    }

    /// <summary>Throws, naming the operand, unless taskGradients is tasks × output.Length and taskWeights has tasks entries.</summary>
    protected static void CheckShapes(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        Check.Positive(tasks, nameof(tasks));
        Check.Length(taskWeights, tasks, nameof(taskWeights));
        if (taskGradients.Length != (long)tasks * output.Length)
            throw new ArgumentException(
                $"taskGradients has {taskGradients.Length} elements but must hold tasks × output.Length = {tasks} × {output.Length} = {(long)tasks * output.Length}.",
                nameof(taskGradients));
    }

    private void EnsureScratch(int tasks)
    {
        if (_tasks == tasks && _gram is not null) return;
        DisposeScratch();
        _gram = Backend.Allocate<T>(tasks * tasks);
        _coefficients = Backend.Allocate<T>(tasks);
        _workspace = Backend.Allocate<double>(Backend<T>.CombinationWorkspaceLength(tasks));
        _tasks = tasks;
    }

    private void DisposeScratch()
    {
        _gram?.Dispose();
        _coefficients?.Dispose();
        _workspace?.Dispose();
        _gram = _coefficients = null;
        _workspace = null;
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        DisposeScratch();
        GC.SuppressFinalize(this);
    }
}
