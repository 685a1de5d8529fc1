using Engine.Kernels;
using Engine.Optimizers;
using Engine.Tests.Infrastructure;
using Engine.Tests.Training;
using Engine.Training;

namespace Engine.Tests.Methods;

/// <summary>
/// A skipped step leaves no trace in a method's own state (<see cref="MethodStateGuard"/>, <see cref="Backend{T}.CopyIfSkipped"/>).
/// For every registered method that keeps state (<see cref="Optimizers.IMethodState{T}"/>: MoCo's tracked gradients,
/// DB-MTL's averages, ExcessMTL's sums, GradNorm's weights, FAMO's logits, STCH's nadir, GradVac's float64 cosine targets
/// and step count, PCGrad's, GradDrop's and RLW's float64 step counts), on the SIMD CPU path and ILGPU's
/// CPU accelerator: two good steps, then a batch whose regression loss is NaN (a NaN weight in its output layer) — the step
/// is skipped and the model and every state buffer keep their bits; the weight restored, the next step's state is finite
/// and equals, bit for bit, that of a twin run that never saw the NaN batch (the guard makes the skipped step a no-op for
/// the method, as it is for the optimizer). Without the guard the state holds NaN after the skipped step (checked by the
/// first assertion: the state is compared bit for bit).
/// </summary>
public class NonFiniteStepTests
{
    private const int Rows = 16;

    public static TheoryData<string, string> Cases()
    {
        var data = new TheoryData<string, string>();
        foreach (var device in TestDevices.Float32)
            foreach (var method in new[] { "moco", "db-mtl-g", "excess-mtl", "gradnorm", "famo", "stch", "gradvac", "pcgrad", "graddrop", "rlw" })
                data.Add(device, method);
        return data;
    }

    /// <summary>The method state's bits by name: float32 tensors as one int each, float64 ones (GradVac's) as one long each
    /// (the finite test below reads them back as such).</summary>
    private static Dictionary<string, long[]> State(TrainingStep step)
    {
        var state = step.SaveState();
        var bits = state.Tensors.Where(t => t.Key.StartsWith(TrainingStep.MethodStateBuffer + ".", StringComparison.Ordinal))
            .ToDictionary(t => t.Key, t => Array.ConvertAll(t.Value, v => (long)BitConverter.SingleToInt32Bits(v)));
        foreach (var (name, values) in state.Float64Tensors) bits.Add(name, Array.ConvertAll(values, BitConverter.DoubleToInt64Bits));
        return bits;
    }

    private static bool IsFinite(bool float64, long bits) =>
        float64 ? double.IsFinite(BitConverter.Int64BitsToDouble(bits)) : float.IsFinite(BitConverter.Int32BitsToSingle((int)bits));

    [Theory]
    [MemberData(nameof(Cases))]
    public void A_skipped_step_leaves_the_method_state_as_it_was(string device, string method)
    {
        var backend = TestDevices.Get(device);
        var data = Problems.Data(Rows, seed: 21);
        var options = new StepOptions { Method = method, LearningRate = 0.01, MaxGradNorm = 1.0 };
        using var model = MultiTaskModel.Create(Problems.Spec(), backend);
        using var twin = MultiTaskModel.Create(Problems.Spec(), backend);
        using var device1 = DeviceDataset.Upload(model, data);
        using var device2 = DeviceDataset.Upload(twin, data);
        using var step = new TrainingStep(model, options, Rows);
        using var twinStep = new TrainingStep(twin, options, Rows);
        for (int s = 0; s < 2; s++) { step.Run(device1, 0, Rows); twinStep.Run(device2, 0, Rows); }
        var before = State(step);
        Assert.NotEmpty(before);
        Assert.Equal(before, State(twinStep));

        var headWeight = model.Parameters.ValuesOf(model.Heads[0].WeightSlot);
        var w = backend.ToArray(headWeight);
        float original = w[0];
        w[0] = float.NaN;
        backend.Upload<float>(w, headWeight);
        var thetaBefore = backend.ToArray(model.Parameters.Values);
        step.ResetStatistics();
        step.Run(device1, 0, Rows);
        Assert.True(float.IsNaN(backend.ToArray(step.TaskLosses)[0]), "the test needs a NaN loss");
        Assert.Equal(1, step.ReadStatistics().SkippedSteps);
        Assert.Equal(Array.ConvertAll(thetaBefore, BitConverter.SingleToInt32Bits), Array.ConvertAll(backend.ToArray(model.Parameters.Values), BitConverter.SingleToInt32Bits));
        var afterSkip = State(step);
        foreach (var (name, bits) in before) Assert.True(bits.SequenceEqual(afterSkip[name]), $"{method} on {device}: {name} changed on the skipped step");

        w[0] = original;
        backend.Upload<float>(w, headWeight);
        step.Run(device1, 0, Rows);
        twinStep.Run(device2, 0, Rows);
        var next = State(step);
        var float64 = step.SaveState().Float64Tensors.Keys.ToHashSet();
        foreach (var (name, bits) in next)
        {
            Assert.All(bits, b => Assert.True(IsFinite(float64.Contains(name), b), $"{name} is not finite after the next step"));
            Assert.True(bits.SequenceEqual(State(twinStep)[name]), $"{method} on {device}: {name} differs from the run without the NaN batch");
        }
    }

    /// <summary>PCGrad, four tasks (two more regression heads whose targets are minus the first's and the first's turned by
    /// 90°, so the trunk's gradients conflict and the projection order changes the update): two good steps, a skipped NaN batch, then four good steps — the model equals,
    /// bit for bit, that of a twin run that never saw the NaN batch, so every later step drew the order it would have drawn
    /// without it. A third run whose step count is one ahead (as a counter the skipped step advanced) differs: the test can tell.</summary>
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void PCGrad_after_a_skipped_step_draws_the_orders_of_the_run_without_it(string device)
    {
        var backend = TestDevices.Get(device);
        var two = Problems.Data(Rows, seed: 23);
        var reg = two["reg"].Values!;
        var turned = new float[reg.Length];
        for (int r = 0; r < Rows; r++) { turned[2 * r] = -reg[2 * r + 1]; turned[2 * r + 1] = reg[2 * r]; }
        var data = new TrainingData(two.Inputs, 5, [two["reg"], two["cls"], TaskData.Regression("neg", Array.ConvertAll(reg, v => -v), 2),
            TaskData.Regression("turned", turned, 2)]);
        var spec = Problems.Spec() with
        {
            Heads = [.. Problems.Spec().Heads, new TaskHead("neg", Engine.Data.TaskKind.Regression, 2, 1.0), new TaskHead("turned", Engine.Data.TaskKind.Regression, 2, 1.0)],
        };
        var options = new StepOptions { Method = "pcgrad", CombinationSeed = 4, LearningRate = 0.05, MaxGradNorm = 1.0 };
        var models = new MultiTaskModel[3];
        var devices = new DeviceDataset[3];
        var steps = new TrainingStep[3];
        try
        {
            for (int r = 0; r < 3; r++)
            {
                models[r] = MultiTaskModel.Create(spec, backend);
                devices[r] = DeviceDataset.Upload(models[r], data);
                steps[r] = new TrainingStep(models[r], options, Rows);
            }
            for (int s = 0; s < 2; s++)
                for (int r = 0; r < 3; r++) steps[r].Run(devices[r], 0, Rows);
            var ahead = steps[2].SaveState();
            string key = TrainingStep.MethodStateBuffer + ".pcgrad.steps";
            Assert.Equal([2.0], ahead.Float64Tensors[key]);
            steps[2].LoadState(new OptimizerState<float>(ahead.Tensors, ahead.Scalars, new Dictionary<string, double[]> { [key] = [3.0] }));

            var headWeight = models[0].Parameters.ValuesOf(models[0].Heads[0].WeightSlot);
            var w = backend.ToArray(headWeight);
            float original = w[0];
            w[0] = float.NaN;
            backend.Upload<float>(w, headWeight);
            steps[0].ResetStatistics();
            steps[0].Run(devices[0], 0, Rows);
            Assert.Equal(1, steps[0].ReadStatistics().SkippedSteps);
            Assert.Equal([2.0], steps[0].SaveState().Float64Tensors[key]);
            w[0] = original;
            backend.Upload<float>(w, headWeight);

            for (int s = 0; s < 4; s++)
                for (int r = 0; r < 3; r++) steps[r].Run(devices[r], 0, Rows);
            int[] Bits(int r) => Array.ConvertAll(backend.ToArray(models[r].Parameters.Values), BitConverter.SingleToInt32Bits);
            Assert.Equal(Bits(1), Bits(0));
            Assert.Equal([6.0], steps[0].SaveState().Float64Tensors[key]);
            Assert.NotEqual(Bits(1), Bits(2));
        }
        finally
        {
            for (int r = 0; r < 3; r++) { steps[r]?.Dispose(); devices[r]?.Dispose(); models[r]?.Dispose(); }
        }
    }
}
