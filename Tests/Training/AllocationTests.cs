using Engine.Data;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Tests.Infrastructure;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// A warm <see cref="TrainingStep.Run"/> allocates nothing on the managed heap (and, by the arena's design, nothing on
/// the device), measured with <see cref="GC.GetAllocatedBytesForCurrentThread"/> over 20 steps on the CPU backend:
/// at small sizes, where every kernel runs on the calling thread, and at a size where the GEMMs and the elementwise
/// kernels are split across the backend's own worker threads (<c>CpuWorkers</c>, which replaced Parallel.For: that
/// allocated ≈1.8 KB per parallel launch, ≈26 KB per step at 1024 rows).
/// </summary>
[Collection(nameof(MeasuredThreadAllocations))]
public class AllocationTests
{
    public static TheoryData<CombinationMethod, WeightingMethod> Paths => new()
    {
        { CombinationMethod.Sum, WeightingMethod.Static },
        { CombinationMethod.Sum, WeightingMethod.LossBalanced },
        { CombinationMethod.Sum, WeightingMethod.Uncertainty },
        { CombinationMethod.PcGrad, WeightingMethod.Static },
        { CombinationMethod.Mgda, WeightingMethod.LossBalanced },
    };

    [Theory]
    [MemberData(nameof(Paths))]
    public void A_warm_step_allocates_nothing(CombinationMethod combination, WeightingMethod weighting)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1), shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, Weighting = weighting, MaxGradNorm = 1.0 }, 16);
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16); // warm: the arena and the pools grow here

        int windows = 0;
        WarmAllocations.AssertNone(() => { windows++; for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16); });
        Assert.Equal(4 + 20 * windows, step.ReadStatistics().Steps);
    }

    /// <summary>The optimizers other than the default Adam, each with its own state and flags (Adagrad's lr decay reads the
    /// device step count), under clipping and a plateau schedule.</summary>
    [Theory]
    [InlineData(OptimizerKind.Sgd)]
    [InlineData(OptimizerKind.RmsProp)]
    [InlineData(OptimizerKind.Adagrad)]
    public void A_warm_step_of_each_optimizer_allocates_nothing(OptimizerKind optimizer)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Problems.Data(64, seed: 1), shuffleable: true);
        var options = new StepOptions
        {
            Optimizer = optimizer, MaxGradNorm = 1.0, Schedule = ScheduleKind.Plateau,
            LearningRateDecay = optimizer == OptimizerKind.Adagrad ? 0.01 : 0, InitialAccumulatorValue = optimizer == OptimizerKind.Adagrad ? 0.1 : 0,
        };
        using var step = new TrainingStep(model, options, 16);
        WarmStepsAllocateNothing(step, device);
    }

    /// <summary>Ordered tasks (docs/maths.md §17.6, §17.7): ESMM's product of a factor that has no labels, and a tower that reads
    /// the product's probability and a regression's value (the column concatenation), end to end and detached; and the sum
    /// data-parallel with the count-weighted exchange (the per-task path, cvr's row 0; maths §17.6, §20).</summary>
    [Theory]
    [InlineData(false, "shared-bottom", false)]
    [InlineData(true, "shared-bottom", false)]
    [InlineData(false, "mmoe", false)]        // the same graph on other shared parts (their features mapped back to the tasks)
    [InlineData(false, "dselect-k", false)]
    [InlineData(false, "cross-stitch", false)]
    [InlineData(false, "shared-bottom", true)]
    [InlineData(false, "mmoe", true)]
    public void A_warm_step_of_a_task_graph_allocates_nothing(bool detach, string arch, bool dataParallel)
    {
        var cpu = new CpuBackend<float>();
        var spec = GraphHeads with
        {
            Architecture = arch switch
            {
                "mmoe" => new MmoeArchitecture(Experts: 3),
                "dselect-k" => new DSelectKArchitecture(Experts: 4, TopK: 2),
                "cross-stitch" => new CrossStitchArchitecture(),
                _ => null,
            },
            Tower = [4],
            Graph = TaskGraph.Esmm("ctcvr", "ctr", "cvr") with { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctcvr", "ctr"] }, DetachInputs = detach },
        };
        using var model = MultiTaskModel.Create(spec, cpu);
        var (x, labels) = GraphRows();
        var data = new TrainingData(x, 4, [TaskData.Binary("ctr", labels), TaskData.Binary("ctcvr", [.. labels.Select((l, i) => i % 2 == 0 ? l : 0)]),
            TaskData.Regression("dwell", [.. Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i))])]);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { MaxGradNorm = 1.0 }, 16,
            communicator: dataParallel ? Engine.Distributed.SingleProcessCommunicator.Instance : null);
        Assert.Equal(dataParallel, step.UsesTaskGradients);
        int globalRows = dataParallel ? 32 : 0;
        WarmStepsAllocateNothing(step, device, globalRows);
    }

    /// <summary>The heads of the task-graph cases: ctr, cvr, ctcvr (binary) and dwell (regression) on 4 inputs, a trunk of 8.</summary>
    private static readonly ModelSpec GraphHeads =
        new(4, [8], [TaskHead.Binary("ctr"), TaskHead.Binary("cvr"), TaskHead.Binary("ctcvr"), TaskHead.Regression("dwell")]);

    /// <summary>64 rows of the task-graph cases: 4 uniform inputs each and a click label on every third row.</summary>
    private static (float[] X, int[] Labels) GraphRows()
    {
        var random = new Random(3);
        return ([.. Enumerable.Range(0, 64 * 4).Select(_ => (float)random.NextDouble())], [.. Enumerable.Range(0, 64).Select(i => i % 3 == 0 ? 1 : 0)]);
    }

    /// <summary>4 warm-up steps over 64 rows in batches of 16 (they size the arena and pools), then 20 more that must allocate nothing.</summary>
    private static void WarmStepsAllocateNothing(TrainingStep step, DeviceDataset device, int globalRows = 0)
    {
        for (int b = 0; b < 4; b++) step.Run(device, b * 16, 16, globalRows);
        WarmAllocations.AssertNone(() => { for (int s = 0; s < 20; s++) step.Run(device, (s % 4) * 16, 16, globalRows); });
    }

    /// <summary>Per-task gradients on ordered tasks (docs/maths.md §17.6): the factors' blocks in the shared block, their logits
    /// boundary tensors, cvr's tower reading σ(z_ctr) (the stacked column concatenation); PCGrad and MGDA; and data-parallel
    /// (maths §20: the exchange of the per-task rows with the factors' blocks), where the sum too takes the per-task path
    /// (cvr is labelled on some rows only).</summary>
    [Theory]
    [InlineData(CombinationMethod.PcGrad, "shared-bottom", false)]
    [InlineData(CombinationMethod.Mgda, "shared-bottom", false)]
    [InlineData(CombinationMethod.PcGrad, "mmoe", false)]
    [InlineData(CombinationMethod.Mgda, "dselect-k", false)]   // the factors' DSelect-k gates in the stacked pass
    [InlineData(CombinationMethod.PcGrad, "dselect-k-entropy", false)]   // and their entropy terms, boundary tensors
    [InlineData(CombinationMethod.Sum, "shared-bottom", true)]
    [InlineData(CombinationMethod.Mgda, "shared-bottom", true)]
    [InlineData(CombinationMethod.PcGrad, "mmoe", true)]
    public void A_warm_per_task_step_of_a_task_graph_allocates_nothing(CombinationMethod method, string arch, bool dataParallel)
    {
        var cpu = new CpuBackend<float>();
        var spec = GraphHeads with
        {
            Architecture = arch switch
            {
                "mmoe" => new MmoeArchitecture(Experts: 3),
                "dselect-k" => new DSelectKArchitecture(Experts: 4, TopK: 2),
                "dselect-k-entropy" => new DSelectKArchitecture(Experts: 4, TopK: 2, EntropyReg: 0.05),
                _ => null,
            },
            Tower = [4],
            Graph = new TaskGraph
            {
                Products = new Dictionary<string, string[]> { ["ctcvr"] = ["ctr", "cvr"] },
                Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctcvr", "ctr"], ["cvr"] = ["ctr"] },
            },
        };
        using var model = MultiTaskModel.Create(spec, cpu);
        var (x, labels) = GraphRows();
        var data = new TrainingData(x, 4, [TaskData.Binary("ctr", labels), TaskData.Binary("cvr", [.. labels.Select((l, i) => l == 1 ? i % 2 : MissingLabel.Class)]),
            TaskData.Binary("ctcvr", [.. labels.Select((l, i) => i % 2 == 0 ? l : 0)]), TaskData.Regression("dwell", [.. Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i))])]);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { MaxGradNorm = 1.0, Combination = method }, 16,
            communicator: dataParallel ? Engine.Distributed.SingleProcessCommunicator.Instance : null);
        Assert.True(step.UsesTaskGradients);
        Assert.Equal(dataParallel, step.CountWeightedExchange);
        int globalRows = dataParallel ? 32 : 0;                              // a share of ½: the weighting launches run too
        WarmStepsAllocateNothing(step, device, globalRows);
    }

    /// <summary>ESMM with a factor that has no loss (docs/maths.md §17.6) under per-task methods and diagnostics: the T′ = 3 rows of the
    /// tasks with a loss, their λ and Lₜ gathered into buffers set up at construction, the combiner over T′.</summary>
    [Theory]
    [InlineData(CombinationMethod.PcGrad, "shared-bottom", false)]
    [InlineData(CombinationMethod.Mgda, "mmoe", false)]
    [InlineData(CombinationMethod.Sum, "shared-bottom", true)]
    public void A_warm_per_task_step_beside_a_task_without_a_loss_allocates_nothing(CombinationMethod method, string arch, bool diagnostics)
    {
        var cpu = new CpuBackend<float>();
        var spec = GraphHeads with
        {
            Architecture = arch == "mmoe" ? new MmoeArchitecture(Experts: 3) : null,
            Tower = [4],
            Graph = TaskGraph.Esmm("ctcvr", "ctr", "cvr") with { Inputs = new Dictionary<string, string[]> { ["dwell"] = ["ctr"] } },
        };
        using var model = MultiTaskModel.Create(spec, cpu);
        var (x, labels) = GraphRows();
        var data = new TrainingData(x, 4, [TaskData.Binary("ctr", labels), TaskData.Binary("ctcvr", [.. labels.Select((l, i) => i % 2 == 0 ? l : 0)]),
            TaskData.Regression("dwell", [.. Enumerable.Range(0, 64).Select(i => (float)Math.Sin(i))])]);
        using var device = DeviceDataset.Upload(model, data, shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { MaxGradNorm = 1.0, Combination = method, TaskGradientDiagnostics = diagnostics }, 16);
        Assert.True(step.UsesTaskGradients);
        Assert.Equal(3 * model.SharedParameters.Length, step.TaskGradients.Length);
        WarmStepsAllocateNothing(step, device);
    }

    public static TheoryData<CombinationMethod, string, string> Schedules => new()
    {
        { CombinationMethod.Sum, nameof(WorkerSchedule.Normal), nameof(WorkerSchedule.Normal) },
        { CombinationMethod.Sum, nameof(WorkerSchedule.HelpersOnly), nameof(WorkerSchedule.CallerOnly) },
        { CombinationMethod.Sum, nameof(WorkerSchedule.CallerOnly), nameof(WorkerSchedule.HelpersOnly) },
        { CombinationMethod.PcGrad, nameof(WorkerSchedule.Normal), nameof(WorkerSchedule.Normal) },
        { CombinationMethod.PcGrad, nameof(WorkerSchedule.HelpersOnly), nameof(WorkerSchedule.CallerOnly) },
        { CombinationMethod.PcGrad, nameof(WorkerSchedule.CallerOnly), nameof(WorkerSchedule.HelpersOnly) },
    };

    /// <summary>
    /// At sizes where the GEMMs and elementwise kernels split across the two CPU threads, a warm step allocates nothing on
    /// the calling thread nor on the helper (<see cref="CpuWorkers.HelperAllocatedBytes"/>) — whichever thread ran which
    /// items while warming up. That was the flaky failure (5,936 bytes in 1 of 3 CI runs): the GEMM's per-thread packing
    /// buffers were sized by the item a thread happened to take, so when a loaded machine let the helper drain every item
    /// of a GEMM during the warm-up, the caller grew its buffers at a later step. The schedules here force the extremes
    /// that scheduling otherwise produces by chance — warm with only the helper working, then measure with only the
    /// caller, and the reverse — so the test decides by that cause, not by luck.
    /// </summary>
    [Theory]
    [MemberData(nameof(Schedules))]
    public void A_warm_step_with_parallel_kernels_allocates_nothing(CombinationMethod combination, string warm, string measured)
    {
        WarmThenMeasureAtASizeThatSplits(new StepOptions { Combination = combination, MaxGradNorm = 1.0 }, warm, measured, 20);
    }

    /// <summary>1024 rows through a 128-128 trunk: each GEMM is ≥ 1024·128·128 ≈ 1.7·10⁷ multiply-adds and each activation
    /// 131 072 elements, both above the CPU backend's thresholds for splitting work across its two workers. Three steps
    /// under the <paramref name="warm"/> schedule, then <paramref name="steps"/> under <paramref name="measured"/> that
    /// allocate nothing on the caller or the helper (the whole scenario, warm-up included, once more when it allocated:
    /// <see cref="WarmAllocations.AssertNoneInAFreshRun"/>).</summary>
    private static void WarmThenMeasureAtASizeThatSplits(StepOptions options, string warm, string measured, int steps) =>
        WarmAllocations.AssertNoneInAFreshRun(() =>
        {
            const int rows = 1024;
            using var cpu = new CpuBackend<float>(threads: 2);
            using var model = MultiTaskModel.Create(Problems.Spec(seed: 3, trunk: [128, 128]), cpu);
            using var device = DeviceDataset.Upload(model, Problems.Data(rows, seed: 2), shuffleable: true);
            using var step = new TrainingStep(model, options, rows);
            cpu.Workers.Schedule = Enum.Parse<WorkerSchedule>(warm);
            for (int s = 0; s < 3; s++) step.Run(device, 0, rows);

            cpu.Workers.Schedule = Enum.Parse<WorkerSchedule>(measured);
            long helper = cpu.Workers.HelperAllocatedBytes;
            long caller = WarmAllocations.Measure(() => { for (int s = 0; s < steps; s++) step.Run(device, 0, rows); });
            Assert.Equal(3 + steps, step.ReadStatistics().Steps);
            Assert.True(cpu.Workers.Started, "no kernel split across the threads: the schedules were not exercised");
            return (caller, cpu.Workers.HelperAllocatedBytes - helper);
        });

    public static TheoryData<string, string, string> MethodSchedules()
    {
        var data = new TheoryData<string, string, string>();
        foreach (var method in new[] { "rlw", "rlw+mgda", "gls", "gls+pcgrad", "uncertainty+mgda", "dwa+cagrad", "graddrop", "loss-balanced+projection", "famo", "famo+mgda", "gradnorm", "gradnorm+mgda", "excess-mtl", "excess-mtl+mgda", "stch", "stch+mgda", "moco", "gls+moco", "db-mtl", "db-mtl-l+pcgrad" })
        {
            data.Add(method, nameof(WorkerSchedule.HelpersOnly), nameof(WorkerSchedule.CallerOnly));
            data.Add(method, nameof(WorkerSchedule.CallerOnly), nameof(WorkerSchedule.HelpersOnly));
        }
        return data;
    }

    /// <summary>
    /// The same two forced extremes for the registry's loss weightings combined with the per-task gradient methods (the
    /// stacked per-task backward, the Gram matrix, the solvers and the combination), at the size where their kernels
    /// split across the two threads: warmed up with only the helper working then measured with only the caller, and
    /// the reverse, nothing is allocated on either thread. (<c>RlwTests</c> and <c>GlsTests</c> check the small
    /// problem, where every kernel runs on the caller.)
    /// </summary>
    [Theory]
    [MemberData(nameof(MethodSchedules))]
    public void A_warm_step_of_a_weighting_and_a_per_task_method_allocates_nothing_whichever_thread_warmed_up(string method, string warm, string measured)
    {
        WarmThenMeasureAtASizeThatSplits(new StepOptions { Method = method, MaxGradNorm = 1.0, CombinationSeed = 3 }, warm, measured, 10);
    }

    public static TheoryData<string, CombinationMethod> Architectures => new()
    {
        { "mmoe", CombinationMethod.Sum }, { "mmoe", CombinationMethod.PcGrad },
        { "omoe", CombinationMethod.Sum }, { "omoe", CombinationMethod.Mgda },
        { "cgc", CombinationMethod.PcGrad }, { "ple", CombinationMethod.PcGrad },
        { "cross-stitch", CombinationMethod.PcGrad },
        { "dselect-k", CombinationMethod.Sum }, { "dselect-k", CombinationMethod.PcGrad },
    };

    [Theory]
    [MemberData(nameof(Architectures))]
    public void A_warm_step_of_a_mixture_of_experts_with_towers_allocates_nothing(string architecture, CombinationMethod combination)
    {
        Architecture arch = architecture switch
        {
            "mmoe" => new MmoeArchitecture(3),
            "omoe" => new OmoeArchitecture(3),
            "cgc" => new CgcArchitecture(2, 1),
            "cross-stitch" => new CrossStitchArchitecture(),
            "dselect-k" => new DSelectKArchitecture(4, 2, 1.0, 0.01),   // with the entropy term in the loss
            _ => new PleArchitecture(2, 1, 3),   // several boundary tensors: the generalised stacked pass
        };
        AssertWarmStepAllocatesNothing(Problems.Spec(tower: [4]) with { Architecture = arch }, combination);
    }

    /// <summary>20 warm steps of batches of 16 (after 4 that size the arena and pools) allocate 0 bytes on the CPU backend.
    /// Also used by the layer tests (dropout, layer norm, embeddings: those pass their own 64 rows).</summary>
    internal static void AssertWarmStepAllocatesNothing(ModelSpec spec, CombinationMethod combination, TrainingData? data = null)
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(spec, cpu);
        using var device = DeviceDataset.Upload(model, data ?? Problems.Data(64, seed: 1), shuffleable: true);
        using var step = new TrainingStep(model, new StepOptions { Combination = combination, MaxGradNorm = 1.0 }, 16);
        WarmStepsAllocateNothing(step, device);
    }

    /// <summary>Sample weights (maths §19.11): the row-weighted MSE and cross-entropy, on the Σλᵢ Lᵢ and the per-task paths.</summary>
    [Theory]
    [InlineData(CombinationMethod.Sum)]
    [InlineData(CombinationMethod.PcGrad)]
    public void A_warm_step_with_sample_weights_allocates_nothing(CombinationMethod combination) =>
        AssertWarmStepAllocatesNothing(Problems.Spec(), combination, Weighted(Problems.Data(64, seed: 1)));

    /// <summary>Sample weights on a binary and a multi-label task (with smoothing): the row-weighted BCE and the weighted
    /// running accuracy sums (<c>WeightedCountCorrectBinary</c>) beside the regression's and classification's.</summary>
    [Fact]
    public void A_warm_step_with_sample_weights_on_binary_and_multi_label_tasks_allocates_nothing()
    {
        var plain = Problems.Data(64, seed: 1);
        var labels = Enumerable.Range(0, 64).Select(r => r % 5 == 2 ? MissingLabel.Class : plain.Inputs[r * plain.InputWidth] > 0 ? 1 : 0).ToArray();
        var tags = Enumerable.Range(0, 128).Select(i => i % 7 == 3 ? MissingLabel.Class : plain.Inputs[i / 2 * plain.InputWidth + i % 2 + 1] > 0 ? 1 : 0).ToArray();
        var data = Weighted(new TrainingData(plain.Inputs, plain.InputWidth, [.. plain.Tasks, TaskData.Binary("b", labels), TaskData.MultiLabel("m", tags, 2)]));
        var spec = Problems.Spec();
        spec = spec with { Heads = [.. spec.Heads, TaskHead.Binary("b"), TaskHead.MultiLabel("m", 2) with { LabelSmoothing = 0.1 }] };
        AssertWarmStepAllocatesNothing(spec, CombinationMethod.Sum, data);
    }

    private static TrainingData Weighted(TrainingData data) =>
        new(data.Inputs, data.InputWidth, data.Tasks, [.. Enumerable.Range(0, data.Rows).Select(r => (float)(r % 3))]);

    [Fact]
    public void Reordering_an_epoch_allocates_nothing()
    {
        var cpu = new CpuBackend<float>();
        using var model = MultiTaskModel.Create(Problems.Spec(), cpu);
        using var device = DeviceDataset.Upload(model, Weighted(Problems.Data(64, seed: 1)), shuffleable: true);   // the weights move too
        var order = Enumerable.Range(0, 64).Reverse().ToArray();
        device.Reorder(order);
        WarmAllocations.AssertNone(() => { device.Reorder(order); });
    }
}
