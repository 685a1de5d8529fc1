using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// The shared part of a multi-task model, built by an <see cref="Architecture"/>: it maps a batch of inputs to one
/// feature matrix per task (what that task's tower, or its output layer, reads).
/// <para>
/// <b>Parameter layout.</b> The part registers, when built, every parameter that more than one task's loss reaches,
/// consecutively: <see cref="SharedParameters"/>, the block gradient combiners (PCGrad, MGDA, …) act on. Parameters
/// that only task t's loss reaches (its gate, its own experts) are registered by <see cref="RegisterTask"/>, which the
/// model calls for task t just before registering t's tower and output layer, so all of task t's own parameters are
/// one block too (<see cref="MultiTaskModel.TaskRange"/>).
/// </para>
/// <para>
/// <b>Per-task backward.</b> <see cref="Forward"/> writes the <i>boundary</i>: the tensors (usually one,
/// <see cref="BoundaryCount"/>) through which every task reaches the shared parameters. Everything recorded from the boundary down must be an op
/// <see cref="Tape{T}.BackwardPerTaskThrough"/> can run for all tasks at once; everything a task does above it must reach the
/// shared parameters only through it.
/// </para>
/// </summary>
public abstract class SharedPart<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private ParameterGroup<T>? _shared;

    /// <summary>Width of the features task <paramref name="task"/> reads.</summary>
    public abstract int FeatureWidth(int task);

    /// <summary>The parameters more than one task's loss reaches, in layout order (one contiguous block, registered first).</summary>
    protected abstract IEnumerable<Tensor<T>> SharedTensors { get; }

    /// <summary>The shared block as a group (available once the flat buffer is allocated).</summary>
    public ParameterGroup<T> SharedParameters => _shared ??= new ParameterGroup<T>(SharedTensors);

    /// <summary>Registers the parameters only task <paramref name="task"/>'s loss reaches (none by default).</summary>
    public virtual void RegisterTask(FlatParameters<T> parameters, int task, TaskHead head) { }

    /// <summary>The tensors <see cref="RegisterTask"/> registered for task <paramref name="task"/> (none by default): on a task
    /// graph, a task another task's loss trains brings them into the shared block (docs/maths.md §17.6).</summary>
    public virtual IEnumerable<Tensor<T>> TaskTensors(int task) => [];

    /// <summary>Fills every parameter of the part (shared and per-task), seeded.</summary>
    public abstract void Initialize(Initializer kind, ulong seed);

    /// <summary>Number of boundary tensors <see cref="Forward"/> writes (1 unless the tasks reach the shared block
    /// through several tensors, as in PLE).</summary>
    public virtual int BoundaryCount => 1;

    /// <summary>
    /// The regularisation term of task <paramref name="task"/> that the last recording <see cref="Forward"/> wrote (a 1×1
    /// tensor the training step adds to that task's loss before the backward, after reading the loss for reports and
    /// weightings), or null when the part has none (the default; DSelect-k's entropy regulariser is one). It must reach
    /// only task-owned parameters of that task, so it changes no shared gradient and adds nothing to the boundary.
    /// </summary>
    public virtual Tensor<T>? Regularizer(int task) => null;

    /// <summary>True when <see cref="Regularizer"/> gives a term for every task after a recording forward (DSelect-k with
    /// an entropy coefficient &gt; 0). On a task graph the term of a task another task's loss trains is one more boundary
    /// tensor of the per-task backward (its gate is then in the shared block, docs/maths.md §17.6).</summary>
    public virtual bool HasRegularizers => false;

    /// <summary>
    /// Records the forward pass: writes task t's features into <paramref name="features"/>[t] and the boundary tensors
    /// (see the class summary) into <paramref name="boundary"/> (<see cref="BoundaryCount"/> of them).
    /// </summary>
    public abstract void Forward(Tape<T> tape, Tensor<T> inputs, Span<Tensor<T>> features, Span<Tensor<T>> boundary);
}
