using Engine.Kernels.Cpu;
using Engine.Training;

namespace Engine.Tests.Training;

/// <summary>
/// One model used from several threads: concurrent <see cref="MultiTaskModel.Predict"/> calls give exactly the
/// single-threaded answers (they used to share the inference tape and input window, and crashed the process with an
/// AccessViolationException); prediction or a second Fit while Fit runs throws <see cref="InvalidOperationException"/>;
/// Predict after Dispose throws <see cref="ObjectDisposedException"/>.
/// </summary>
public class ConcurrencyTests
{
    private static float[] Inputs(int rows, int seed)
    {
        var random = new Random(seed);
        return Enumerable.Range(0, rows * 5).Select(_ => (float)(random.NextDouble() * 2 - 1)).ToArray();
    }

    [Fact]
    public void Concurrent_predictions_match_the_single_threaded_ones()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>(threads: 2));
        // Row counts on both sides of MaxPredictionBatch (1024), so some calls take several device passes.
        int[] sizes = [1, 7, 300, 1024, 1500, 2100];
        var inputs = sizes.Select((n, i) => Inputs(n, i)).ToArray();
        var expected = inputs.Select((x, i) => model.Predict(x, sizes[i])["reg"].Values.ToArray()).ToArray();

        var failures = new System.Collections.Concurrent.ConcurrentBag<string>();
        var threads = Enumerable.Range(0, 4).Select(t => new Thread(() =>
        {
            for (int call = 0; call < 25; call++)
            {
                int i = (t + call) % sizes.Length;
                var got = model.Predict(inputs[i], sizes[i])["reg"].Values;
                if (!got.SequenceEqual(expected[i])) failures.Add($"thread {t} call {call} size {sizes[i]}");
            }
        })).ToArray();
        foreach (var th in threads) th.Start();
        foreach (var th in threads) th.Join();
        Assert.Empty(failures);
    }

    /// <summary>Runs <paramref name="action"/> on another thread, waits, and returns what it threw.</summary>
    private static Exception? OnAnotherThread(Action action)
    {
        Exception? thrown = null;
        var thread = new Thread(() => { try { action(); } catch (Exception e) { thrown = e; } });
        thread.Start();
        thread.Join();
        return thrown;
    }

    private sealed class OnEpoch(Action<EpochReport> action) : IProgress<EpochReport>
    {
        public void Report(EpochReport value) => action(value);
    }

    [Fact]
    public void Predicting_or_fitting_from_another_thread_while_Fit_runs_throws()
    {
        using var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        var data = Problems.Data(64, seed: 1);
        var x = Inputs(3, 9);
        Exception? predict = null, fit = null, sameThread = null;
        var trainer = new Trainer(new TrainerOptions { Epochs = 2, BatchSize = 16 });
        trainer.Fit(model, data, progress: new OnEpoch(e =>
        {
            if (e.Epoch != 1) return;
            // Fit is running on this thread, in the middle of its loop: a second thread must be refused, not race it.
            predict = OnAnotherThread(() => model.Predict(x, 3));
            fit = OnAnotherThread(() => trainer.Fit(model, data, cancellationToken: TestContext.Current.CancellationToken));
            try { model.Predict(x, 3); } catch (Exception ex) { sameThread = ex; } // the training thread itself may look
        }), cancellationToken: TestContext.Current.CancellationToken);
        Assert.Contains("being trained", Assert.IsType<InvalidOperationException>(predict).Message);
        Assert.Contains("already being trained", Assert.IsType<InvalidOperationException>(fit).Message);
        Assert.Null(sameThread);
        // After Fit: usable from any thread again.
        Assert.Null(OnAnotherThread(() => model.Predict(x, 3)));
    }

    [Fact]
    public void Predict_after_Dispose_throws_ObjectDisposedException()
    {
        var model = MultiTaskModel.Create(Problems.Spec(), new CpuBackend<float>());
        model.Dispose();
        model.Dispose(); // twice is fine
        Assert.Throws<ObjectDisposedException>(() => model.Predict(Inputs(2, 1), 2));
    }
}
