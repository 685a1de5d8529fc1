using System.Globalization;
using Engine.Kernels;

namespace Engine.Bench.Soak;

/// <summary>
/// <c>soak [--steps 1000000] [--steps-per-epoch 1000] [--samples 20] [--device cpu]</c>: the soak benchmark
/// (<see cref="Soak"/>). Prints one Markdown row per sample and the verdict; exit 1 when memory grew after warm-up,
/// 2 on bad arguments.
/// </summary>
public static class SoakCommand
{
    public static int Run(string[] args)
    {
        var options = new SoakOptions();
        string device = "cpu";
        try
        {
            for (int i = 0; i < args.Length; i++)
            {
                string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
                switch (args[i])
                {
                    case "--steps": options = options with { Steps = long.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--steps-per-epoch": options = options with { StepsPerEpoch = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--samples": options = options with { Samples = int.Parse(Next(), CultureInfo.InvariantCulture) }; break;
                    case "--device": device = Next(); break;
                    default: throw new ArgumentException($"Unknown argument '{args[i]}'.");
                }
            }
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"soak: {e.Message}");
            return 2;
        }

        using var backend = Device.Create(device);
        Console.WriteLine($"Soak: {options.Steps:N0} steps of the small workload (8 → 64 → 64, 2 regression heads, batch {Soak.Batch}, " +
                          $"Adam, clip 1.0, sum) through Trainer.Fit, {options.StepsPerEpoch} steps an epoch, on {backend.Info.Name}.");
        Console.WriteLine();
        Console.WriteLine("| steps | wall s | managed heap (after full GC) | allocated, all threads | allocated, this thread | working set |");
        Console.WriteLine("| ---: | ---: | ---: | ---: | ---: | ---: |");
        SoakResult result;
        try
        {
            result = Soak.Run(options, backend, s => Console.WriteLine(
                $"| {s.Steps:N0} | {s.Elapsed.TotalSeconds:F1} | {Mb(s.HeapBytes)} | {Mb(s.AllocatedBytes)} | {Mb(s.ThreadAllocatedBytes)} | {Mb(s.WorkingSetBytes)} |"));
        }
        catch (ArgumentException e)
        {
            Console.Error.WriteLine($"soak: {e.Message}");
            return 2;
        }
        var (w, end) = (result.Samples[result.Warmup], result.Samples[^1]);
        Console.WriteLine();
        Console.WriteLine($"Warm-up: the first {w.Steps:N0} steps. After it: {(end.Steps - w.Steps) / (end.Elapsed - w.Elapsed).TotalSeconds:N0} steps/s, " +
                          $"{result.AllocatedBytesPerStep:F1} bytes allocated per step (all threads; the trainer's per-epoch work spread over its steps).");
        Console.WriteLine($"Verdict: {(result.Passed ? "PASS" : "FAIL")}: {result.Verdict}.");
        return result.Passed ? 0 : 1;
    }

    private static string Mb(long bytes) => (bytes / 1048576.0).ToString("F2", CultureInfo.InvariantCulture) + " MiB";
}
