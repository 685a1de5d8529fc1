using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// The common shape of every Gram-based combiner: a step is three launches —
/// <see cref="Backend{T}.Gram"/> (one pass over the tasks × P buffer), a tiny single-thread float64 solve on the device
/// that turns the Gram matrix and the weights into coefficients (<see cref="SolveCoefficients"/>), and
/// <see cref="Backend{T}.LinearCombination"/> (one more pass). Scratch (Gram, coefficients, float64 workspace) is
/// allocated on the first call for a task count and reused. Subclasses say which solve and how much workspace.
/// </summary>
public abstract class GramCombiner<T> : ITaskGramCombiner<T>, IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private DeviceBuffer<T>? _gram, _coefficients;
    private DeviceBuffer<double>? _workspace;
    private int _tasks;

    protected GramCombiner(Backend<T> backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        Backend = backend;
    }

    /// <summary>The device the combiner runs on.</summary>
    public Backend<T> Backend { get; }

    /// <summary>The Gram matrix of the last <see cref="Combine"/> (tasks × tasks, on the device): feed it to a
    /// <see cref="GradientConflictMonitor{T}"/> to get diagnostics without another pass over the gradients.</summary>
    public View<T> Gram => _gram?.View ?? throw new InvalidOperationException("Combine has not run yet.");

    /// <summary>The coefficients a of the last <see cref="Combine"/>: the result was Σₖ aₖ gₖ.</summary>
    public View<T> Coefficients => _coefficients?.View ?? throw new InvalidOperationException("Combine has not run yet.");

    /// <summary>The float64 workspace of the solve (state a method keeps between steps lives here).</summary>
    protected View<double> Workspace => _workspace?.View ?? throw new InvalidOperationException("Combine has not run yet.");

    /// <summary>Called once the scratch for <paramref name="tasks"/> tasks is allocated (uninitialised): set the state the
    /// method keeps in <paramref name="workspace"/>.</summary>
    protected virtual void ScratchAllocated(int tasks, View<double> workspace)
    {
    }

    /// <summary>Called when the scratch is released (a new task count, or <see cref="Dispose"/>): release what
    /// <see cref="ScratchAllocated"/> allocated.</summary>
    protected virtual void ScratchReleased()
    {
    }

    /// <summary>Float64 workspace elements the solve needs for <paramref name="tasks"/> tasks.</summary>
    protected abstract int WorkspaceLength(int tasks);

    /// <summary>The coefficients (tasks) from the Gram matrix (tasks × tasks) and the weights, on the device.</summary>
    protected abstract void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients);

    /// <inheritdoc/>
    public virtual void Combine(View<T> taskGradients, int tasks, View<T> taskWeights, View<T> output)
    {
        CheckShapes(taskGradients, tasks, taskWeights, output);
        EnsureScratch(tasks);
        int length = output.Length;
        Backend.Gram(taskGradients, tasks, length, _gram!.View);
        SolveCoefficients(_gram.View, tasks, taskWeights, _workspace!.View, _coefficients!.View);
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

    /// <summary>Allocates the scratch for <paramref name="tasks"/> tasks now rather than on the first <see cref="Combine"/>
    /// (a method whose state must exist before the first step, to be guarded and saved, calls it from its constructor).</summary>
    protected void EnsureScratch(int tasks)
    {
        if (_tasks == tasks && _gram is not null) return;
        DisposeScratch();
        _gram = Backend.Allocate<T>(tasks * tasks);
        _coefficients = Backend.Allocate<T>(tasks);
        _workspace = Backend.Allocate<double>(WorkspaceLength(tasks));
        _tasks = tasks;
        ScratchAllocated(tasks, _workspace.View);
    }

    private void DisposeScratch()
    {
        if (_gram is not null) ScratchReleased();
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

/// <summary>
/// The Gram-based combiners of <see cref="Backend{T}.CombinationCoefficients"/> (projection, PCGrad, MGDA, CAGrad):
/// subclasses only say which method and hyper-parameters.
/// </summary>
public abstract class GradientCombiner<T>(Backend<T> backend) : GramCombiner<T>(backend) where T : unmanaged, IFloatingPointIeee754<T>
{
    /// <summary>The method and hyper-parameters handed to the coefficient kernel.</summary>
    public abstract CombinationSettings Settings { get; }

    /// <summary>The seed of the random order (PCGrad's; the step count that goes with it is counted on the device, in the
    /// workspace); 0 for the deterministic methods.</summary>
    protected virtual int OrderSeed => 0;

    /// <inheritdoc/>
    protected override int WorkspaceLength(int tasks) => Backend<T>.CombinationWorkspaceLength(tasks);

    /// <inheritdoc/>
    protected override void SolveCoefficients(View<T> gram, int tasks, View<T> taskWeights, View<double> workspace, View<T> coefficients) =>
        Backend.CombinationCoefficients(Settings, gram, tasks, taskWeights, OrderSeed, workspace, coefficients);
}
