using Engine.Autodiff;
using Engine.Data;
using Engine.Kernels;
using Engine.Training;

namespace Engine.Metrics;

/// <summary>
/// Evaluates a model on a device-resident labelled set: no-grad forwards of at most
/// <see cref="MultiTaskModel.MaxPredictionBatch"/> rows, each task's masked loss (MSE or cross-entropy over the labelled
/// rows only) and error sums accumulated on the device, one download at the end. Reusable across epochs (the trainer keeps one for validation).
/// </summary>
internal sealed class Evaluator : IDisposable
{
    private readonly MultiTaskModel _model;
    private readonly Tape<float> _tape;
    private readonly MetricAccumulator _accumulator;
    private readonly DeviceBuffer<float> _losses, _labelled;
    private readonly Tensor<float>[] _outputs;

    public Evaluator(MultiTaskModel model)
    {
        _model = model;
        _tape = new Tape<float>(model.Backend);
        _accumulator = new MetricAccumulator(model.Backend, model.Spec.Heads);
        _losses = model.Backend.Allocate<float>(model.TaskCount);
        _labelled = model.Backend.Allocate<float>(model.TaskCount);
        _outputs = new Tensor<float>[model.TaskCount];
    }

    /// <summary>The metrics of every task on <paramref name="data"/>, in head order.</summary>
    /// <summary>With <paramref name="communicator"/>, <paramref name="data"/> is this rank's shard and the metrics are
    /// those of all ranks' rows together (the sums are all-reduced once at the end).</summary>
    public TaskMetrics[] Evaluate(DeviceDataset data, Engine.Distributed.ICommunicator? communicator = null)
    {
        if (!ReferenceEquals(data.Model, _model)) throw new ArgumentException("The data was uploaded for another model.", nameof(data));
        var backend = _model.Backend;
        var heads = _model.Spec.Heads;
        _accumulator.Reset();
        for (int start = 0; start < data.Rows; start += _model.MaxPredictionBatch)
        {
            int rows = Math.Min(_model.MaxPredictionBatch, data.Rows - start);
            _tape.Reset();
            using (_tape.NoGrad())
            {
                var x = _tape.Input(data.Inputs(start, rows), rows, _model.Spec.Inputs, "inputs");
                _model.Forward(_tape, x, _outputs);
            }
            for (int t = 0; t < heads.Count; t++)
            {
                var loss = _losses.Slice(t, 1);
                var labelled = _labelled.Slice(t, 1);
                if (heads[t].Kind == TaskKind.Regression)
                {
                    var targets = data.Targets(t, start, rows);
                    backend.MaskedMseForward(_outputs[t].Data, targets, loss, labelled);
                    _accumulator.AddRegression(t, _outputs[t].Data, targets, rows, _tape.Arena.Take(3 * _outputs[t].Length));
                }
                else if (heads[t].Kind == TaskKind.Binary)
                {
                    var labels = data.Labels(t, start, rows);
                    backend.MaskedBinaryCrossEntropyForward(_outputs[t].Data, labels, _tape.Arena.Take(_outputs[t].Length), loss, labelled);
                    _accumulator.AddBinary(t, _outputs[t].Data, labels);
                }
                else
                {
                    var labels = data.Labels(t, start, rows);
                    backend.MaskedSoftmaxCrossEntropyForward(_outputs[t].Data, labels, rows, heads[t].Outputs, _tape.Arena.Take(_outputs[t].Length), loss, labelled);
                    _accumulator.AddClassification(t, _outputs[t].Data, labels, rows);
                }
            }
            _accumulator.AddLosses(_losses.View, _labelled.View, rows);
        }
        return _accumulator.Read(Scales(data), communicator: communicator);
    }

    internal static double[]?[] Scales(DeviceDataset data)
    {
        var scales = new double[]?[data.Model.TaskCount];
        for (int t = 0; t < scales.Length; t++) scales[t] = data.Task(t).Scale;
        return scales;
    }

    public void Dispose()
    {
        _tape.Dispose();
        _accumulator.Dispose();
        _losses.Dispose();
        _labelled.Dispose();
    }
}
