using Engine.Data;
using Engine.Kernels;

namespace Engine.Training;

/// <summary>
/// A labelled set resident on the device, laid out for one model: inputs [rows × inputs] and, per head (in the
/// model's task order), regression targets [rows × k] or class indices [rows]. A mini-batch is a contiguous window
/// of rows (<see cref="Inputs"/>, <see cref="Targets"/>, <see cref="Labels"/>, <see cref="SampleWeights"/>: views, no copy).
/// <para><b>Shuffling without a gather kernel.</b> The set is uploaded once; each epoch <see cref="Reorder"/> writes
/// the rows in a new order into host staging arrays allocated once (pinned), and uploads each buffer once. Mini-batches
/// are then consecutive windows, so a training step reads only device memory and the host uploads once per epoch,
/// never per step.</para>
/// </summary>
public sealed class DeviceDataset : IDisposable
{
    private readonly TaskData[] _tasks;          // the data's task for each head
    private readonly DeviceBuffer<float> _inputs;
    private readonly DeviceBuffer<float>?[] _targets;
    private readonly DeviceBuffer<int>?[] _labels;
    private readonly DeviceBuffer<float>? _weights;  // the sample weights [rows], when the data has them
    private readonly float[] _inputStaging;
    private readonly float[]? _weightStaging;
    private readonly float[]?[] _targetStaging;
    private readonly int[]?[] _labelStaging;

    private DeviceDataset(MultiTaskModel model, TrainingData data, string name)
    {
        Model = model;
        Source = data;
        var spec = model.Spec;
        if (data.InputWidth != spec.Inputs)
            throw new ArgumentException($"{name}: the inputs have {data.InputWidth} features per row but the model takes {spec.Inputs}.", name);
        InputValidation.CheckCategoryIndices(data.Inputs, data.Rows, spec, name);
        _tasks = new TaskData[spec.Heads.Count];
        for (int i = 0; i < _tasks.Length; i++)
        {
            var head = spec.Heads[i];
            if (spec.IsUnsupervised(i)) // no loss of its own (§17.6): no labels needed, any the data has are not used
            {
                _tasks[i] = TaskData.Binary(head.Name, Enumerable.Repeat(MissingLabel.Class, data.Rows).ToArray());
                continue;
            }
            var task = data.Tasks.FirstOrDefault(t => t.Name == head.Name)
                ?? throw new ArgumentException($"{name}: the data has no targets for the model's task '{head.Name}' (data tasks: {string.Join(", ", data.Tasks.Select(t => t.Name))}).", name);
            if (task.Kind != head.Kind)
                throw new ArgumentException($"{name}: task '{head.Name}' is a {task.Kind} in the data but a {head.Kind} in the model.", name);
            if (task.Width != head.Outputs)
                throw new ArgumentException(head.Kind == TaskKind.Regression
                    ? $"{name}: task '{head.Name}' has {task.Width} target columns but the model's head has {head.Outputs} outputs."
                    : $"{name}: task '{head.Name}' has {task.Width} classes but the model's head has {head.Outputs}.", name);
            _tasks[i] = task;
        }

        var backend = model.Backend;
        Rows = data.Rows;
        _targets = new DeviceBuffer<float>?[_tasks.Length];
        _labels = new DeviceBuffer<int>?[_tasks.Length];
        _targetStaging = new float[]?[_tasks.Length];
        _labelStaging = new int[]?[_tasks.Length];
        _inputs = backend.Allocate<float>(data.Inputs);
        try
        {
            for (int i = 0; i < _tasks.Length; i++)
                if (_tasks[i].Kind == TaskKind.Regression) _targets[i] = backend.Allocate<float>(_tasks[i].Values!);
                else _labels[i] = backend.Allocate<int>(_tasks[i].Classes!);
            if (data.SampleWeights is { } weights) _weights = backend.Allocate<float>(weights);
        }
        catch
        {
            Dispose();
            throw;
        }
        _inputStaging = [];
    }

    private DeviceDataset(MultiTaskModel model, TrainingData data, string name, bool staging) : this(model, data, name)
    {
        if (!staging) return;
        _inputStaging = GC.AllocateUninitializedArray<float>(data.Inputs.Length, pinned: true);
        for (int i = 0; i < _tasks.Length; i++)
            if (_tasks[i].Kind == TaskKind.Regression) _targetStaging[i] = GC.AllocateUninitializedArray<float>(_tasks[i].Values!.Length, pinned: true);
            else _labelStaging[i] = GC.AllocateUninitializedArray<int>(Rows * _tasks[i].LabelWidth, pinned: true);
        if (_weights is not null) _weightStaging = GC.AllocateUninitializedArray<float>(Rows, pinned: true);
    }

    /// <summary>Uploads <paramref name="data"/> for <paramref name="model"/>: every head needs a task of the same name,
    /// kind and width (tasks the model lacks are ignored). <paramref name="name"/> names the set in messages.
    /// With <paramref name="shuffleable"/>, host staging for <see cref="Reorder"/> is allocated too.</summary>
    public static DeviceDataset Upload(MultiTaskModel model, TrainingData data, string name = "data", bool shuffleable = false)
    {
        ArgumentNullException.ThrowIfNull(model);
        ArgumentNullException.ThrowIfNull(data);
        return new DeviceDataset(model, data, name, shuffleable);
    }

    /// <summary>The model the layout follows.</summary>
    public MultiTaskModel Model { get; }

    /// <summary>The host data.</summary>
    public TrainingData Source { get; }

    /// <summary>Number of rows.</summary>
    public int Rows { get; }

    /// <summary>The data's task for head <paramref name="task"/>.</summary>
    public TaskData Task(int task) => _tasks[task];

    /// <summary>Input rows [firstRow, firstRow + rows).</summary>
    public View<float> Inputs(int firstRow, int rows)
    {
        CheckRows(firstRow, rows);
        int width = Model.Spec.Inputs;
        return _inputs.Slice(firstRow * width, rows * width);
    }

    /// <summary>Regression targets of head <paramref name="task"/> for rows [firstRow, firstRow + rows).</summary>
    public View<float> Targets(int task, int firstRow, int rows)
    {
        CheckRows(firstRow, rows);
        var buffer = _targets[task] ?? throw new InvalidOperationException($"Task '{_tasks[task].Name}' is a classification: use Labels.");
        int width = _tasks[task].Width;
        return buffer.Slice(firstRow * width, rows * width);
    }

    /// <summary>True when the rows carry sample weights (<see cref="TrainingData.SampleWeights"/>).</summary>
    public bool IsWeighted => _weights is not null;

    /// <summary>The sample weights of rows [firstRow, firstRow + rows), or an empty view when the data is unweighted.</summary>
    public View<float> SampleWeights(int firstRow, int rows)
    {
        CheckRows(firstRow, rows);
        return _weights is null ? default : _weights.Slice(firstRow, rows);
    }

    /// <summary>Class indices of head <paramref name="task"/> for rows [firstRow, firstRow + rows).</summary>
    public View<int> Labels(int task, int firstRow, int rows)
    {
        CheckRows(firstRow, rows);
        var buffer = _labels[task] ?? throw new InvalidOperationException($"Task '{_tasks[task].Name}' is a regression: use Targets.");
        int width = _tasks[task].LabelWidth;
        return buffer.Slice(firstRow * width, rows * width);
    }

    private void CheckRows(int firstRow, int rows)
    {
        if (firstRow < 0 || rows <= 0 || firstRow > Rows - rows)
            throw new ArgumentOutOfRangeException(nameof(rows), $"Rows [{firstRow}, {firstRow + rows}) do not lie within the {Rows} rows of the data.");
    }

    /// <summary>
    /// Rewrites the device copy with source row <c>order[i]</c> at position i (a permutation of 0…Rows−1): gathered on
    /// the host into the pinned staging arrays, then one upload per buffer. No allocation.
    /// </summary>
    public void Reorder(ReadOnlySpan<int> order)
    {
        if (_inputStaging.Length == 0) throw new InvalidOperationException("Upload the data with shuffleable: true to reorder it.");
        if (order.Length != Rows) throw new ArgumentException($"order has {order.Length} entries but the data has {Rows} rows.", nameof(order));
        int width = Model.Spec.Inputs;
        var inputs = Source.Inputs;
        for (int i = 0; i < order.Length; i++)
            inputs.AsSpan(order[i] * width, width).CopyTo(_inputStaging.AsSpan(i * width, width));
        Model.Backend.Upload<float>(_inputStaging, _inputs.View);
        for (int t = 0; t < _tasks.Length; t++)
        {
            if (_targetStaging[t] is { } staging)
            {
                int k = _tasks[t].Width;
                var values = _tasks[t].Values!;
                for (int i = 0; i < order.Length; i++) values.AsSpan(order[i] * k, k).CopyTo(staging.AsSpan(i * k, k));
                Model.Backend.Upload<float>(staging, _targets[t]!.View);
            }
            else
            {
                var labels = _labelStaging[t]!;
                var classes = _tasks[t].Classes!;
                int k = _tasks[t].LabelWidth;
                for (int i = 0; i < order.Length; i++) classes.AsSpan(order[i] * k, k).CopyTo(labels.AsSpan(i * k, k));
                Model.Backend.Upload<int>(labels, _labels[t]!.View);
            }
        }
        if (_weightStaging is not null)
        {
            var weights = Source.SampleWeights!;
            for (int i = 0; i < order.Length; i++) _weightStaging[i] = weights[order[i]];
            Model.Backend.Upload<float>(_weightStaging, _weights!.View);
        }
    }

    /// <summary>Frees the device buffers.</summary>
    public void Dispose()
    {
        _inputs?.Dispose();
        foreach (var b in _targets) b?.Dispose();
        foreach (var b in _labels) b?.Dispose();
        _weights?.Dispose();
    }
}
