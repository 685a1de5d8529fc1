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
    private readonly DeviceBuffer<float> _weightSums;   // [T]: a batch's weight masses D (sample-weighted data, §19.11)
    private readonly DeviceBuffer<float> _ones;         // p ≡ 1 for the row-weighted BCE of a binary or multi-label task
    private readonly Tensor<float>[] _outputs;
    private DeviceBuffer<float>?[] _all = [];   // per task: the outputs of every row of the last data set (extra metrics)

    public Evaluator(MultiTaskModel model)
    {
        _model = model;
        _tape = new Tape<float>(model.Backend);
        _accumulator = new MetricAccumulator(model.Backend, model.Spec.Heads);
        _losses = model.Backend.Allocate<float>(model.TaskCount);
        _labelled = model.Backend.Allocate<float>(model.TaskCount);
        _weightSums = model.Backend.Allocate<float>(model.TaskCount);
        _ones = model.Backend.Allocate<float>([.. Enumerable.Repeat(1f, model.Spec.Heads.Max(h => h.Outputs))]);
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
        if (communicator is null) Prepare(data.Rows);
        for (int start = 0; start < data.Rows; start += _model.MaxPredictionBatch)
        {
            int rows = Math.Min(_model.MaxPredictionBatch, data.Rows - start);
            _tape.Reset();
            using (_tape.NoGrad())
            {
                var x = _tape.Input(data.Inputs(start, rows), rows, _model.Spec.Inputs, "inputs");
                _model.Forward(_tape, x, _outputs);
            }
            var weights = data.SampleWeights(start, rows);
            for (int t = 0; t < heads.Count; t++)
            {
                var loss = _losses.Slice(t, 1);
                var labelled = _labelled.Slice(t, 1);
                if (!weights.IsEmpty) WeightedLoss(t, data, start, rows, weights, loss, labelled);
                else if (heads[t].Kind == TaskKind.Regression)
                {
                    var targets = data.Targets(t, start, rows);
                    heads[t].RegressionLossOrMse.Forward(backend, _outputs[t].Data, targets, loss, labelled); // the task's training loss (§19.6)
                    _accumulator.AddRegression(t, _outputs[t].Data, targets, rows, _tape.Arena.Take(3 * _outputs[t].Length));
                }
                else if (heads[t].Kind is TaskKind.Binary or TaskKind.MultiLabel)   // multi-label: every (row, label) one logit
                {
                    var labels = data.Labels(t, start, rows);
                    bool product = _model.Spec.IsProduct(t);
                    if (product) backend.MaskedProbabilityCrossEntropyForward(_outputs[t].Data, labels, loss, labelled); // §19.7
                    else backend.MaskedBinaryCrossEntropyForward(_outputs[t].Data, labels, _tape.Arena.Take(_outputs[t].Length), loss, labelled);
                    _accumulator.AddBinary(t, _outputs[t].Data, labels, product ? _tape.Arena.Take(_outputs[t].Length) : default);
                }
                else
                {
                    var labels = data.Labels(t, start, rows);
                    backend.MaskedSoftmaxCrossEntropyForward(_outputs[t].Data, labels, rows, heads[t].Outputs, _tape.Arena.Take(_outputs[t].Length), loss, labelled);
                    _accumulator.AddClassification(t, _outputs[t].Data, labels, rows);
                }
            }
            if (weights.IsEmpty) _accumulator.AddLosses(_losses.View, _labelled.View, rows);
            else _accumulator.AddWeightedLosses(_losses.View, _weightSums.View, _labelled.View, rows);
            if (communicator is null)
                for (int t = 0; t < heads.Count; t++) backend.Copy(_outputs[t].Data, _all[t]!.Slice(start * heads[t].Outputs, rows * heads[t].Outputs));
        }
        var metrics = _accumulator.Read(Scales(data), communicator: communicator);
        // data-parallel: the rank has only its shard's outputs, so the metrics that need every output (AUC, P/R/F1, R²) are
        // left out, weighted or not; the loss, RMSE, MAE and accuracy are ratios of the all-reduced sums
        return communicator is null ? WithScores(data, metrics) : metrics;
    }

    /// <summary>Task t's sample-weighted loss on a batch (maths §19.11): the regression's weighted loss (MSE, L1 or Huber), BCE (p ≡ 1) or softmax cross-entropy
    /// (no class weights, no smoothing: the plain loss, as without sample weights), D into <c>_weightSums</c>[t]; then the
    /// weighted error sums Σ sᵣe², Σ sᵣ|e|, Σ sᵣmᵢ and Σ sᵣ·1[correct] with their mass. On one process <see cref="WithScores"/>
    /// recomputes the error metrics in float64 from the outputs; on a data-parallel run (no rank holds every output) these
    /// sums, all-reduced with the loss sums and masses, ARE the weighted RMSE, MAE and accuracy (maths §19.11, §20).</summary>
    private void WeightedLoss(int t, DeviceDataset data, int start, int rows, View<float> weights, View<float> loss, View<float> labelled)
    {
        var backend = _model.Backend;
        var head = _model.Spec.Heads[t];
        var output = _outputs[t].Data;
        var weightSum = _weightSums.Slice(t, 1);
        if (head.Kind == TaskKind.Regression)
        {
            var targets = data.Targets(t, start, rows);
            head.RegressionLossOrMse.Forward(backend, output, targets, loss, labelled, weights, weightSum);
            _accumulator.AddRegression(t, output, targets, rows, _tape.Arena.Take(3 * output.Length), weights);
        }
        else if (head.Kind is TaskKind.Binary or TaskKind.MultiLabel)
        {
            var labels = data.Labels(t, start, rows);
            bool product = _model.Spec.IsProduct(t);
            if (product) backend.MaskedProbabilityCrossEntropyForward(output, labels, loss, labelled, weights, weightSum);   // §19.7
            else backend.PositiveWeightedBinaryCrossEntropyForward(output, labels, weights, _ones.Slice(0, head.Outputs), 0f, head.Outputs,
                _tape.Arena.Take(output.Length), loss, labelled, weightSum);   // ε = 0: scored unsmoothed (§19.13)
            _accumulator.AddBinary(t, output, labels, product ? _tape.Arena.Take(output.Length) : default, weights);
        }
        else
        {
            var labels = data.Labels(t, start, rows);
            backend.WeightedSoftmaxCrossEntropyForward(output, labels, weights, default, 0f, rows, head.Outputs, _tape.Arena.Take(output.Length),
                loss, labelled, weightSum);
            _accumulator.AddClassification(t, output, labels, rows, weights);
        }
    }

    /// <summary>Sizes the per-task output buffers for <paramref name="rows"/> rows (allocates only when the size changes).</summary>
    private void Prepare(int rows)
    {
        var heads = _model.Spec.Heads;
        if (_all.Length == heads.Count && _all[0]!.Length == (long)rows * heads[0].Outputs) return;
        foreach (var b in _all) b?.Dispose();
        _all = new DeviceBuffer<float>?[heads.Count];
        for (int t = 0; t < heads.Count; t++) _all[t] = _model.Backend.Allocate<float>(rows * heads[t].Outputs);
    }

    /// <summary>AUC, precision/recall/F1 and R² from the downloaded outputs of every row (one read per task, maths §19.4).</summary>
    private TaskMetrics[] WithScores(DeviceDataset data, TaskMetrics[] metrics)
    {
        var heads = _model.Spec.Heads;
        var weights = data.Source.SampleWeights;   // weighted RMSE, MAE, accuracy, P/R/F1, R², binary and multi-label AUC (maths §19.11)
        for (int t = 0; t < heads.Count; t++)
        {
            var outputs = _model.Backend.ToArray(_all[t]!.View);
            var task = data.Task(t);
            if (heads[t].Kind == TaskKind.Regression)
            {
                var targets = task.Values!;
                var p = outputs;
                if (task.Scale is { } scale)   // R² in original units: scale both by σ per column (μ cancels)
                {
                    p = (float[])outputs.Clone();
                    targets = (float[])targets.Clone();
                    for (int i = 0; i < p.Length; i++) { p[i] *= (float)scale[i % scale.Length]; targets[i] *= (float)scale[i % scale.Length]; }
                }
                metrics[t] = metrics[t] with { RSquared = ClassificationMetrics.RSquared(p, targets, heads[t].Outputs) };
                if (weights is not null)
                {
                    var (rmse, mae) = WeightedMetrics.Regression(outputs, task.Values!, heads[t].Outputs, weights, task.Scale);
                    metrics[t] = metrics[t] with
                    {
                        Rmse = rmse, Mae = mae, RSquared = WeightedMetrics.RSquared(p, targets, heads[t].Outputs, weights), Weighted = true,
                    };
                }
                continue;
            }
            var labels = task.Classes!;
            int c = heads[t].Outputs;
            if (heads[t].Kind == TaskKind.MultiLabel)
            {
                var (microP, microR, microF1, meanAuc) = ClassificationMetrics.MultiLabel(outputs, labels, c);
                metrics[t] = metrics[t] with { Precision = microP, Recall = microR, F1 = microF1, Auc = meanAuc };
                if (weights is not null)
                {
                    var decisions = Array.ConvertAll(outputs, z => z > 0 ? 1 : 0);
                    var (weightedP, weightedR, weightedF1) = WeightedMetrics.PrecisionRecallF1(decisions, labels, 2, c, weights);   // micro
                    metrics[t] = metrics[t] with
                    {
                        Accuracy = WeightedMetrics.Accuracy(decisions, labels, c, weights), Precision = weightedP, Recall = weightedR, F1 = weightedF1,
                        Auc = WeightedMetrics.MultiLabelAuc(outputs, labels, c, weights), Weighted = true,   // the labels' weighted AUCs, macro mean
                    };
                }
                continue;
            }
            var predicted = new int[data.Rows];
            for (int r = 0; r < data.Rows; r++)
            {
                if (heads[t].Kind == TaskKind.Binary) { predicted[r] = outputs[r] > (_model.Spec.IsProduct(t) ? 0.5f : 0) ? 1 : 0; continue; }
                int best = 0;
                for (int j = 1; j < c; j++) if (outputs[r * c + j] > outputs[r * c + best]) best = j;
                predicted[r] = best;
            }
            int classes = heads[t].Kind == TaskKind.Binary ? 2 : c;
            var (precision, recall, f1) = weights is null ? ClassificationMetrics.FromClasses(predicted, labels, classes)
                : WeightedMetrics.PrecisionRecallF1(predicted, labels, classes, 1, weights);
            metrics[t] = metrics[t] with
            {
                Precision = precision, Recall = recall, F1 = f1,
                Auc = heads[t].Kind != TaskKind.Binary ? null
                    : weights is null ? ClassificationMetrics.Auc(Array.ConvertAll(outputs, v => (double)v), labels)
                    : ClassificationMetrics.Auc(Array.ConvertAll(outputs, v => (double)v), labels, WeightedMetrics.PerEntry(weights, 1)),
            };
            if (weights is not null) metrics[t] = metrics[t] with { Accuracy = WeightedMetrics.Accuracy(predicted, labels, 1, weights), Weighted = true };
        }
        return metrics;
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
        foreach (var b in _all) b?.Dispose();
        _accumulator.Dispose();
        _losses.Dispose();
        _labelled.Dispose();
        _weightSums.Dispose();
        _ones.Dispose();
    }
}
