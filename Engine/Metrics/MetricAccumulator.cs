using Engine.Data;
using Engine.Kernels;

namespace Engine.Metrics;

/// <summary>
/// Sums on the device, over the batches of an epoch (or an evaluation), everything <see cref="TaskMetrics"/> needs,
/// counting <b>labelled</b> values only (a NaN target or a negative class is no label, maths.md §19.1): per task
/// Σ nᵢ·Lᵢ and Σ nᵢ (nᵢ the batch's labelled count written by the masked loss kernels, so the mean loss weighs every
/// labelled value alike), and per regression column the sums of squared and absolute errors and the labelled count, or
/// per classification the count of correct rows. With sample weights sᵣ (maths §19.11; the batch's weights passed to the
/// Add methods) every error sum and count is weighted instead: Σ sᵣe², Σ sᵣ|e|, Σ sᵣmᵢ per column (sᵀ·E, one GEMM each),
/// Σ sᵣ·1[correct] and the labelled weight mass Σ sᵣ (<see cref="Backend{T}.WeightedCountCorrect"/>), so RMSE, MAE and
/// accuracy are the weighted ones. A batch adds a few small launches and no host read; <see cref="Read"/>
/// downloads everything once.
/// Layout of the device buffer: [T loss sums | T labelled counts | per task: SSE[k], SAE[k], N[k] (regression) or
/// correct, mass (classification; the mass is written only with sample weights)].
/// </summary>
internal sealed class MetricAccumulator : IDisposable
{
    private readonly Backend<float> _backend;
    private readonly TaskHead[] _heads;
    private readonly int[] _offsets;
    private readonly DeviceBuffer<float> _sums, _counts;
    private readonly DeviceBuffer<float> _masses;   // [T]: Σ Dᵢ, the weight masses of sample-weighted losses (§19.11)
    private bool _weightedLosses;                   // the losses were added with AddWeightedLosses since the last reset
    private bool _weightedErrors;                   // the error sums were added with sample weights since the last reset
    private long _rows;

    public MetricAccumulator(Backend<float> backend, IReadOnlyList<TaskHead> heads)
    {
        _backend = backend;
        _heads = [.. heads];
        _offsets = new int[_heads.Length];
        int length = 2 * _heads.Length;
        for (int t = 0; t < _heads.Length; t++)
        {
            _offsets[t] = length;
            length += _heads[t].Kind == TaskKind.Regression ? 3 * _heads[t].Outputs : 2;
        }
        _sums = backend.Allocate<float>(length);
        _counts = backend.Allocate<float>(2 * _heads.Length);
        _masses = backend.Allocate<float>(_heads.Length);
        Reset();
    }

    /// <summary>The T loss sums Σ nᵢ·Lᵢ (the first T elements).</summary>
    public View<float> LossSums => _sums.Slice(0, _heads.Length);

    /// <summary>The T labelled counts Σ nᵢ (the next T elements).</summary>
    public View<float> LabelledSums => _sums.Slice(_heads.Length, _heads.Length);

    /// <summary>The error sums and correct counts after the 2T loss sums and labelled counts: 3k per regression task
    /// (SSE, SAE, labelled count per column), 2 per classification (correct rows, labelled weight mass). A data-parallel step accumulates a
    /// step's sums here on a scratch accumulator, all-reduces them in its one buffer and adds them with <see cref="AddErrorSums"/>.</summary>
    public View<float> ErrorSums => _sums.Slice(2 * _heads.Length, _sums.Length - 2 * _heads.Length);

    /// <summary>Zeroes <see cref="ErrorSums"/> only.</summary>
    public void ResetErrorSums() => _backend.Fill(ErrorSums, 0f);

    /// <summary>Adds error sums laid out as <see cref="ErrorSums"/> (another accumulator's, globally reduced; <paramref name="weighted"/>:
    /// added with sample weights).</summary>
    public void AddErrorSums(View<float> sums, bool weighted)
    {
        _backend.Axpy(1f, sums, ErrorSums);
        _weightedErrors |= weighted;
    }

    /// <summary>Rows added since the last reset (labelled or not).</summary>
    public long Rows => _rows;

    /// <summary>Zeroes every sum.</summary>
    public void Reset()
    {
        _backend.Fill(_sums.View, 0f);
        _backend.Fill(_masses.View, 0f);
        _weightedLosses = false;
        _weightedErrors = false;
        _rows = 0;
    }

    /// <summary>Adds a batch's task losses and labelled counts (T each, on the device): Σ += nᵢ·Lᵢ, N += nᵢ.</summary>
    public void AddLosses(View<float> taskLosses, View<float> labelledCounts, int rows)
    {
        _backend.Multiply(labelledCounts, taskLosses, LossSums, accumulate: true);
        _backend.Axpy(1f, labelledCounts, LabelledSums);
        _rows += rows;
    }

    /// <summary>Adds a batch's sample-weighted task losses (maths §19.11): Σ += Dᵢ·Lᵢ with Dᵢ = Σ sᵣmᵣ the batch's weight mass
    /// (<paramref name="weightSums"/>), so that the mean read is Σ sᵣmᵣℓᵣ / Σ sᵣmᵣ over all the rows added, and N += nᵢ
    /// (the labelled counts, <paramref name="labelledCounts"/>). Do not mix with <see cref="AddLosses"/> between resets.</summary>
    public void AddWeightedLosses(View<float> taskLosses, View<float> weightSums, View<float> labelledCounts, int rows)
    {
        _backend.Multiply(weightSums, taskLosses, LossSums, accumulate: true);
        _backend.Axpy(1f, weightSums, _masses.View);
        _backend.Axpy(1f, labelledCounts, LabelledSums);
        _weightedLosses = true;
        _rows += rows;
    }

    /// <summary>Adds a regression batch's error sums and labelled counts per column (NaN targets left out); with
    /// <paramref name="rowWeights"/> (one sᵣ per row) the weighted sums Σ sᵣe², Σ sᵣ|e|, Σ sᵣmᵢ.
    /// <paramref name="scratch"/>: 3·rows·k temporaries.</summary>
    public void AddRegression(int task, View<float> predictions, View<float> targets, int rows, View<float> scratch, View<float> rowWeights = default)
    {
        int k = _heads[task].Outputs, n = rows * k, o = _offsets[task];
        var error = scratch.Slice(0, n);
        var mask = scratch.Slice(n, n);
        var a = scratch.Slice(2 * n, n);
        _backend.MaskedDifference(predictions, targets, error, mask);      // e = p − t (0 where no label), m = labelled
        AddColumnSums(mask, rows, k, _sums.Slice(o + 2 * k, k), rowWeights);
        _backend.Multiply(error, error, a, accumulate: false);              // e²
        AddColumnSums(a, rows, k, _sums.Slice(o, k), rowWeights);
        _backend.ActivationForward(Activation.Relu, error, a);              // |e| = max(0, e) + max(0, −e)
        _backend.Scale(error, -1f);
        _backend.ActivationForward(Activation.Relu, error, mask);
        _backend.Add(a, mask, a);
        AddColumnSums(a, rows, k, _sums.Slice(o + k, k), rowWeights);
        _weightedErrors |= !rowWeights.IsEmpty;
    }

    /// <summary>sums += the column sums of the rows × k matrix x, or its weighted column sums sᵀx (a 1 × rows by rows × k GEMM).</summary>
    private void AddColumnSums(View<float> x, int rows, int k, View<float> sums, View<float> rowWeights)
    {
        if (rowWeights.IsEmpty) _backend.ColumnSums(x, rows, k, sums, accumulate: true);
        else _backend.Gemm(false, false, 1, k, rows, 1f, rowWeights, x, 1f, sums);
    }

    /// <summary>Adds a classification batch's count of labelled rows whose argmax is the label; with <paramref name="rowWeights"/>
    /// their weight Σ sᵣ·1[correct] and the labelled rows' weight mass Σ sᵣ.</summary>
    public void AddClassification(int task, View<float> logits, View<int> labels, int rows, View<float> rowWeights = default)
    {
        var counts = _counts.Slice(2 * task, 2);
        if (rowWeights.IsEmpty) _backend.CountCorrect(logits, labels, rows, _heads[task].Outputs, counts.Slice(0, 1));
        else _backend.WeightedCountCorrect(logits, labels, rowWeights, rows, _heads[task].Outputs, counts);
        AddCounts(task, counts, rowWeights);
    }

    /// <summary>Adds a binary or multi-label batch's count of labelled entries whose prediction (z &gt; 0, i.e. σ(z) &gt; ½) is the
    /// label; with <paramref name="rowWeights"/> their weight and the labelled entries' weight mass.</summary>
    public void AddBinary(int task, View<float> logits, View<int> labels, View<float> probabilityScratch = default, View<float> rowWeights = default)
    {
        var counts = _counts.Slice(2 * task, 2);
        if (!probabilityScratch.IsEmpty)
        {
            // The output is a probability (a product task, §17.6): p > ½ ⇔ p − ½ > 0, counted as a logit would be.
            _backend.Fill(probabilityScratch, -0.5f);
            _backend.Add(logits, probabilityScratch, probabilityScratch);
            logits = probabilityScratch;
        }
        if (rowWeights.IsEmpty) _backend.CountCorrectBinary(logits, labels, counts.Slice(0, 1));
        else _backend.WeightedCountCorrectBinary(logits, labels, rowWeights, counts);
        AddCounts(task, counts, rowWeights);
    }

    /// <summary>The correct count (and, weighted, the mass) of a batch into the task's two slots.</summary>
    private void AddCounts(int task, View<float> counts, View<float> rowWeights)
    {
        int used = rowWeights.IsEmpty ? 1 : 2;
        var total = _sums.Slice(_offsets[task], used);
        _backend.Add(total, counts.Slice(0, used), total);
        _weightedErrors |= !rowWeights.IsEmpty;
    }

    /// <summary>Downloads the sums and turns them into metrics (σ per regression column from <paramref name="scales"/>;
    /// <paramref name="withErrors"/> false when only losses were accumulated).</summary>
    /// With <paramref name="communicator"/>, the sums, weight masses and row counts of every rank are added first (one host
    /// all-reduce): each rank accumulated its own rows, and every rank then reads the same global metrics.
    public TaskMetrics[] Read(IReadOnlyList<double[]?> scales, bool withErrors = true, Engine.Distributed.ICommunicator? communicator = null)
    {
        var sums = ReadSums(communicator, out _, out var allMasses);
        var masses = _weightedLosses ? allMasses : null;
        var result = new TaskMetrics[_heads.Length];
        int tasks = _heads.Length;
        for (int t = 0; t < tasks; t++)
        {
            var head = _heads[t];
            double labelled = sums[tasks + t];
            double loss = masses is null ? sums[t] / Math.Max(labelled, 1) : masses[t] > 0 ? sums[t] / masses[t] : 0;
            long count = (long)Math.Round(labelled);
            if (!withErrors) { result[t] = new TaskMetrics(head.Name, head.Kind, loss, null, null, null, count); continue; }
            int o = _offsets[t];
            if (head.Kind == TaskKind.Regression)
            {
                int k = head.Outputs;
                double squared = 0, absolute = 0, n = 0;
                for (int j = 0; j < k; j++)
                {
                    double s = scales[t]?[j] ?? 1.0;
                    squared += s * s * sums[o + j];
                    absolute += s * sums[o + k + j];
                    n += sums[o + 2 * k + j];
                }
                result[t] = n == 0
                    ? new TaskMetrics(head.Name, head.Kind, loss, null, null, null, 0)
                    : new TaskMetrics(head.Name, head.Kind, loss, Math.Sqrt(squared / n), absolute / n, null, count);
            }
            else
            {
                double mass = _weightedErrors ? sums[o + 1] : labelled;   // weighted: Σ sᵣ over the labelled entries
                result[t] = new TaskMetrics(head.Name, head.Kind, loss, null, null, mass == 0 ? null : sums[o] / mass, count);
            }
        }
        if (_weightedErrors || _weightedLosses)
            for (int t = 0; t < tasks; t++) result[t] = result[t] with { Weighted = true };
        return result;
    }

    /// <summary>The device sums (as doubles), the T weight masses Σ Dᵢ and the row count, summed over the ranks of
    /// <paramref name="communicator"/> in one host all-reduce: a weighted mean Σ DᵢLᵢ / Σ Dᵢ over every rank's rows needs the
    /// global masses as much as the global loss sums (maths §19.11, §20).</summary>
    private double[] ReadSums(Engine.Distributed.ICommunicator? communicator, out long rows, out double[] masses)
    {
        var device = _backend.ToArray(_sums.View);
        var mass = _backend.ToArray(_masses.View);
        var sums = new double[device.Length + mass.Length + 1];
        for (int i = 0; i < device.Length; i++) sums[i] = device[i];
        for (int t = 0; t < mass.Length; t++) sums[device.Length + t] = mass[t];
        sums[^1] = _rows;
        communicator?.AllReduceSum(sums);
        rows = (long)sums[^1];
        masses = sums[device.Length..^1];
        return sums;
    }

    public void Dispose()
    {
        _sums.Dispose();
        _counts.Dispose();
        _masses.Dispose();
    }
}
