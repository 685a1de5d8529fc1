using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// What Adam and SGD share: the parameter groups and their launch ranges, the learning-rate schedule,
/// the step-control block, per-parameter state buffers of the flat layout, and saving/restoring them.
/// A step launches one kernel per contiguous range of each group, reading the control block on the
/// device; it reads nothing back and allocates nothing.
/// </summary>
public abstract class Optimizer<T> : IOptimizer<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<(string Name, DeviceBuffer<T> Buffer)> _state = [];
    private readonly ParameterGroupInfo[] _groups;

    /// <summary>Sets up groups and the control block.</summary>
    protected Optimizer(Backend<T> backend, FlatParameters<T> parameters, double learningRate, double weightDecay,
        IReadOnlyList<ParameterGroup>? groups, ILearningRateSchedule? schedule)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(parameters);
        Backend = backend;
        Parameters = parameters;
        _groups = ParameterGroups.Resolve(parameters, groups, learningRate, weightDecay);
        Schedule = schedule;
        Control = new StepControlBlock<T>(backend);
    }

    /// <summary>The device the optimizer runs on.</summary>
    public Backend<T> Backend { get; }

    /// <summary>The parameters it updates.</summary>
    public FlatParameters<T> Parameters { get; }

    /// <inheritdoc/>
    public StepControlBlock<T> Control { get; }

    /// <summary>The learning-rate schedule (null: constant); applied to every group's base rate.</summary>
    public ILearningRateSchedule? Schedule { get; set; }

    /// <inheritdoc/>
    public long StepsTaken { get; private set; }

    /// <inheritdoc/>
    public IReadOnlyList<ParameterGroupInfo> Groups => _groups;

    /// <inheritdoc/>
    public double CurrentLearningRate(int group = 0)
    {
        if ((uint)group >= (uint)_groups.Length) throw new ArgumentOutOfRangeException(nameof(group), group, $"There are {_groups.Length} parameter groups.");
        double lr = _groups[group].BaseLearningRate;
        return Schedule?.LearningRate(lr, StepsTaken) ?? lr;
    }

    /// <inheritdoc/>
    public void Step()
    {
        // Without a clipper this step is neither clipped nor guarded: just count it on the device.
        if (!Control.IsPrepared) Backend.AdvanceStep(Control.View);
        for (int g = 0; g < _groups.Length; g++)
        {
            var group = _groups[g];
            double lr = CurrentLearningRate(g);
            var ranges = group.Ranges;
            for (int r = 0; r < ranges.Count; r++) // indexed, not foreach: no enumerator allocated
                StepRange(ranges[r].Offset, ranges[r].Length, lr, group.WeightDecay);
        }
        Control.MarkConsumed();
        StepsTaken++;
    }

    /// <summary>Launches the update of the flat range [offset, offset + length) with this step's hyper-parameters.</summary>
    protected abstract void StepRange(int offset, int length, double learningRate, double weightDecay);

    /// <summary>
    /// For a derived constructor: checks the default group's hyper-parameters and every parameter group's with
    /// <paramref name="validate"/> (learning rate, weight decay); if one is rejected, frees what this base constructor
    /// already put on the device and rethrows.
    /// </summary>
    protected void ValidateEveryGroup(double learningRate, double weightDecay, Action<double, double> validate)
    {
        try
        {
            validate(learningRate, weightDecay);
            foreach (var group in Groups) validate(group.BaseLearningRate, group.WeightDecay);
        }
        catch
        {
            Dispose(); // the control block is already on the device
            throw;
        }
    }

    /// <summary>Allocates a zeroed state buffer of the flat layout, saved as <c>{name}.{parameter}</c>.</summary>
    protected View<T> AddStateBuffer(string name)
    {
        var buffer = Backend.Allocate<T>(Parameters.Count);
        Backend.Upload<T>(new T[Parameters.Count], buffer.View);
        _state.Add((name, buffer));
        return buffer.View;
    }

    /// <inheritdoc/>
    public OptimizerState<T> SaveState()
    {
        var tensors = new Dictionary<string, T[]>(StringComparer.Ordinal);
        foreach (var (name, buffer) in _state)
            foreach (var slot in Parameters.Slots)
                tensors.Add($"{name}.{slot.Name}", Backend.ToArray(buffer.Slice(slot.Offset, slot.Length)));
        var scalars = new Dictionary<string, double>(StringComparer.Ordinal)
        {
            [OptimizerState<T>.Step] = Control.ReadStepCount(),
            [OptimizerState<T>.SkippedSteps] = Control.ReadSkippedSteps(),
            [OptimizerState<T>.ScheduleStep] = StepsTaken,
        };
        return new OptimizerState<T>(tensors, scalars);
    }

    /// <inheritdoc/>
    public void LoadState(OptimizerState<T> state)
    {
        ArgumentNullException.ThrowIfNull(state);
        var expected = new Dictionary<string, int>(StringComparer.Ordinal);
        foreach (var (name, _) in _state)
            foreach (var slot in Parameters.Slots)
                expected.Add($"{name}.{slot.Name}", slot.Length);
        state.Validate(expected, [OptimizerState<T>.Step, OptimizerState<T>.SkippedSteps, OptimizerState<T>.ScheduleStep]);
        foreach (var (name, buffer) in _state)
            foreach (var slot in Parameters.Slots)
                Backend.Upload<T>(state.Tensors[$"{name}.{slot.Name}"], buffer.Slice(slot.Offset, slot.Length));
        Control.Write((long)state.Scalars[OptimizerState<T>.Step], (long)state.Scalars[OptimizerState<T>.SkippedSteps]);
        StepsTaken = (long)state.Scalars[OptimizerState<T>.ScheduleStep];
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        foreach (var (_, buffer) in _state) buffer.Dispose();
        Control.Dispose();
        GC.SuppressFinalize(this);
    }
}
