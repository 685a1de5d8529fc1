using Engine.Data;
using Engine.Kernels;
using Engine.Training;

namespace Engine.Bench.Workloads;

/// <summary>
/// A workload's step run by the library itself: <see cref="MultiTaskModel"/> (PyTorch's default initialization) and
/// <see cref="TrainingStep"/> with Adam (lr 1e-3), clipping at 1.0, and Sum or PCGrad combination, on one uploaded
/// batch. Metrics tracking is off (the peer computes none); the rest of what the library's step does — gathering the
/// task losses, the norm statistics, the conflict monitor under PCGrad — is timed with it.
/// </summary>
public sealed class EngineStep : IStepRunner
{
    private readonly MultiTaskModel _model;
    private readonly DeviceDataset _data;
    private readonly TrainingStep _step;
    private readonly int _batch;

    private EngineStep(Workload workload, StepVariant variant, Backend<float> backend, ulong seed, string? method)
    {
        var heads = workload.Heads.Select((h, i) => h.Kind == HeadKind.Regression
            ? TaskHead.Regression($"reg{i}", h.Outputs)
            : new TaskHead($"cls{i}", TaskKind.Classification, h.Outputs)).ToList();
        var spec = new ModelSpec(workload.Inputs + workload.Categories.Length, workload.Trunk, heads)
        {
            Seed = seed,
            Dropout = workload.Dropout,
            Embeddings = workload.Categories.Length == 0 ? null
                : [.. workload.Categories.Select((c, i) => new EmbeddingSpec($"c{i}", c, workload.EmbeddingDim))],
        };
        _model = MultiTaskModel.Create(spec, backend);
        _batch = workload.Batch;

        var random = new Random((int)seed + 7);
        float[] Uniform(int n, float scale) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale)];
        var tasks = workload.Heads.Select((h, i) => h.Kind == HeadKind.Regression
            ? TaskData.Regression($"reg{i}", Uniform(_batch * h.Outputs, 1f), h.Outputs)
            : TaskData.Classification($"cls{i}", [.. Enumerable.Range(0, _batch).Select(_ => random.Next(h.Outputs))], h.Outputs)).ToList();
        int width = spec.Inputs;
        var x = Uniform(_batch * width, 1.7f);
        for (int r = 0; r < _batch; r++)       // the embedded columns: category indices
            for (int i = 0; i < workload.Categories.Length; i++) x[r * width + workload.Inputs + i] = random.Next(workload.Categories[i]);
        _data = DeviceDataset.Upload(_model, new TrainingData(x, width, tasks));
        _step = new TrainingStep(_model, new StepOptions
        {
            Combination = variant == StepVariant.PcGrad && method is null ? CombinationMethod.PcGrad : CombinationMethod.Sum,
            CombinationSeed = (int)seed,
            MaxGradNorm = 1.0,
            Optimizer = OptimizerKind.Adam,
            LearningRate = 1e-3,
            TrackMetrics = false,
            Method = method,
        }, _batch);
    }

    /// <summary>The library's step on <paramref name="workload"/>; <paramref name="method"/> (a registry name, as
    /// <c>--method</c>) replaces the variant's combination when given.</summary>
    public static IStepRunner Create(Workload workload, StepVariant variant, Backend<float> backend, ulong seed = 0, string? method = null) =>
        new EngineStep(workload, variant, backend, seed, method);

    /// <inheritdoc/>
    public string Implementation => "Engine.Training.TrainingStep (MultiTaskModel, Adam, clip 1.0)";

    /// <inheritdoc/>
    public void Run()
    {
        _step.Run(_data, 0, _batch);
        _model.Backend.Synchronize();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _step.Dispose();
        _data.Dispose();
        _model.Dispose();
    }
}
