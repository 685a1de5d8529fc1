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
    private readonly List<LabelGate> _gates = [];   // sorted by offset, disjoint

    /// <summary>A flat range updated only when its task had labels: its own control block, derived each step.</summary>
    private sealed record LabelGate(int Offset, int Length, View<T> Labelled, DeviceBuffer<T> Control);

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
        for (int i = 0; i < _gates.Count; i++) Backend.GateStepControl(Control.View, _gates[i].Labelled, _gates[i].Control.View);
        for (int g = 0; g < _groups.Length; g++)
        {
            var group = _groups[g];
            double lr = CurrentLearningRate(g);
            var ranges = group.Ranges;
            for (int r = 0; r < ranges.Count; r++) // indexed, not foreach: no enumerator allocated
                StepGated(ranges[r].Offset, ranges[r].Length, lr, group.WeightDecay);
        }
        Control.MarkConsumed();
        StepsTaken++;
    }

    /// <summary>
    /// Makes the flat range [offset, offset + length) (a task head's parameters) update only in steps where the device
    /// scalar <paramref name="labelled"/> (the task's labelled count in the batch) is not 0: otherwise the range's
    /// parameters and state (Adam's moments, SGD's momentum) are left exactly as they were. Decided on the device
    /// (<see cref="Backend{T}.GateStepControl"/>), no host read. Ranges may not overlap. Maths: docs/maths.md §19.2.
    /// </summary>
    public void GateRange(int offset, int length, View<T> labelled)
    {
        if (offset < 0 || length <= 0 || offset > Parameters.Count - length)
            throw new ArgumentOutOfRangeException(nameof(length), $"Range [{offset}, {offset + length}) is not within the {Parameters.Count} parameters.");
        foreach (var gate in _gates)
            if (offset < gate.Offset + gate.Length && gate.Offset < offset + length)
                throw new ArgumentException($"Range [{offset}, {offset + length}) overlaps the gated range [{gate.Offset}, {gate.Offset + gate.Length}).", nameof(offset));
        var control = Backend.Allocate<T>(StepControl.Length);
        try { Backend.GateStepControl(Control.View, labelled, control.View); } // validates the operands
        catch { control.Dispose(); throw; }
        int at = 0;
        while (at < _gates.Count && _gates[at].Offset < offset) at++;
        _gates.Insert(at, new LabelGate(offset, length, labelled, control));
    }

    /// <summary>Steps [offset, offset + length), the parts inside a gated range with that range's control block.</summary>
    private void StepGated(int offset, int length, double learningRate, double weightDecay)
    {
        int position = offset, end = offset + length;
        for (int i = 0; i < _gates.Count && position < end; i++)
        {
            var gate = _gates[i];
            int start = gate.Offset, stop = gate.Offset + gate.Length;
            if (stop <= position) continue;
            if (start >= end) break;
            if (start > position) { StepRange(position, start - position, learningRate, weightDecay, Control.View); position = start; }
            int until = Math.Min(stop, end);
            StepRange(position, until - position, learningRate, weightDecay, gate.Control.View);
            position = until;
        }
        if (position < end) StepRange(position, end - position, learningRate, weightDecay, Control.View);
    }

    /// <summary>Launches the update of the flat range [offset, offset + length) with this step's hyper-parameters, reading
    /// <paramref name="control"/> (the step-control block: <see cref="Control"/>, or a gated copy of it) on the device.</summary>
    protected abstract void StepRange(int offset, int length, double learningRate, double weightDecay, View<T> control);

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
        foreach (var gate in _gates) gate.Control.Dispose();
        Control.Dispose();
        GC.SuppressFinalize(this);
    }
}
