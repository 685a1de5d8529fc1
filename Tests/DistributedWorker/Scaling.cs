using System.Diagnostics;
using System.Globalization;
using Engine.Data;
using Engine.Distributed;
using Engine.Kernels;
using Engine.Training;

namespace Engine.DistributedWorker;

/// <summary>
/// The measurements of docs/results.md's scaling table (run by hand, not by the tests):
/// <c>mpirun -np P dotnet Engine.DistributedWorker.dll scaling DIR [sum|pcgrad] [steps]</c> times data-parallel steps of
/// the large workload (1024→2048,2048; reg 1, reg 1, cls 100, cls 100; global batch 512, split over the ranks), and
/// <c>allreduce DIR</c> times MPI_Allreduce of 1 … 2²⁵ floats (the latency and bandwidth of the time model).
/// </summary>
internal static class Scaling
{
    public const int GlobalBatch = 512, Inputs = 1024;

    public static void Steps(ICommunicator c, Backend<float> backend, List<string> output, string variant, int steps, bool plain)
    {
        var spec = new ModelSpec(Inputs, [2048, 2048],
            [TaskHead.Regression("r1"), TaskHead.Regression("r2"), TaskHead.Classification("c1", 100), TaskHead.Classification("c2", 100)]) { Seed = 1 };
        using var model = MultiTaskModel.Create(spec, backend);
        int rows = GlobalBatch / c.Size;
        var random = new Random(c.Rank + 1);
        var x = new float[rows * Inputs];
        for (int i = 0; i < x.Length; i++) x[i] = (float)(random.NextDouble() * 2 - 1);
        float[] Reg() => [.. Enumerable.Range(0, rows).Select(_ => (float)random.NextDouble())];
        int[] Cls() => [.. Enumerable.Range(0, rows).Select(_ => random.Next(100))];
        var data = new TrainingData(x, Inputs, [TaskData.Regression("r1", Reg()), TaskData.Regression("r2", Reg()),
            TaskData.Classification("c1", Cls(), 100), TaskData.Classification("c2", Cls(), 100)]);
        using var device = DeviceDataset.Upload(model, data);
        var options = new StepOptions { Combination = variant == "pcgrad" ? CombinationMethod.PcGrad : CombinationMethod.Sum, MaxGradNorm = 1.0 };
        using var step = new TrainingStep(model, options, rows, communicator: plain ? null : c, everyRowLabelled: true);   // every row labelled (as the table was measured)
        for (int s = 0; s < 2; s++) step.Run(device, 0, rows, GlobalBatch);
        c.Barrier();
        var clock = Stopwatch.StartNew();
        for (int s = 0; s < steps; s++) step.Run(device, 0, rows, GlobalBatch);
        c.Barrier();
        double seconds = clock.Elapsed.TotalSeconds;
        double reduce = 0;                                 // the step's all-reduce alone, on a buffer of the same length
        if (!plain && step.ExchangedFloats > 0)
        {
            using var buffer = backend.Allocate<float>(step.ExchangedFloats);
            backend.Fill(buffer.View, 0.5f);
            c.AllReduceSum(buffer.View);
            c.Barrier();
            var reduceClock = Stopwatch.StartNew();
            for (int k = 0; k < 3; k++) c.AllReduceSum(buffer.View);
            reduce = reduceClock.Elapsed.TotalSeconds / 3;
        }
        output.Add(string.Create(CultureInfo.InvariantCulture,
            $"{variant} ranks {c.Size} plain {plain} rows/rank {rows} steps {steps} seconds {seconds:F3} steps/s {steps / seconds:F3} allreduce_ms {reduce * 1e3:F1} " +
            $"floats/step {step.ExchangedFloats} shared {model.SharedParameters.Length} parameters {model.Parameters.Count} device {backend.Info.Name}"));
    }

    public static void AllReduce(ICommunicator c, Backend<float> backend, List<string> output)
    {
        for (int log = 0; log <= 25; log += 5)
        {
            int n = 1 << log;
            using var buffer = backend.Allocate<float>(n);
            backend.Fill(buffer.View, 1f);
            int reps = n >= 1 << 20 ? 5 : 200;
            c.AllReduceSum(buffer.View);
            var times = new double[reps];
            for (int k = 0; k < reps; k++)
            {
                c.Barrier();
                var clock = Stopwatch.StartNew();
                c.AllReduceSum(buffer.View);
                times[k] = clock.Elapsed.TotalSeconds;
            }
            Array.Sort(times);
            output.Add(string.Create(CultureInfo.InvariantCulture, $"allreduce floats {n} bytes {4L * n} median_us {times[reps / 2] * 1e6:F1} min_us {times[0] * 1e6:F1}"));
        }
    }
}
