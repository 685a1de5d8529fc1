using System.Globalization;
using Engine.Bench.Compare;
using Engine.Kernels;

namespace Engine.Bench.Gpu;

/// <summary>The options of every <c>gpu</c> subcommand (Bench/README.md, "gpu").</summary>
public sealed record GpuOptions
{
    public string Device { get; init; } = "cuda";
    public int Repeats { get; init; } = 5;
    public double BlockMs { get; init; } = 20;
    public double WarmupMs { get; init; } = 500;
    public string Python { get; init; } = "python3";
    public bool Peer { get; init; } = true;
    /// <summary>The peer's device: cuda when ours is cuda, else cpu (a dry run).</summary>
    public string? PeerDevice { get; init; }
    public int Size { get; init; } = 4096;
    public int Scale { get; init; } = 1;
    public long[] Params { get; init; } = [10_000_000, 100_000_000];
    public int Tasks { get; init; } = 4;
    public string Only { get; init; } = "small,medium,large";

    public string EffectivePeerDevice => PeerDevice ?? (Device == "cuda" ? "cuda" : "cpu");

    public static GpuOptions Parse(string[] args)
    {
        var o = new GpuOptions();
        for (int i = 0; i < args.Length; i++)
        {
            string Next() => i + 1 < args.Length ? args[++i] : throw new ArgumentException($"{args[i]} needs a value.");
            int Int() => int.Parse(Next(), CultureInfo.InvariantCulture);
            o = args[i] switch
            {
                "--device" => o with { Device = Next() },
                "--repeats" => o with { Repeats = Int() },
                "--block-ms" => o with { BlockMs = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--warmup-ms" => o with { WarmupMs = double.Parse(Next(), CultureInfo.InvariantCulture) },
                "--python" => o with { Python = Next() },
                "--no-peer" => o with { Peer = false },
                "--peer-device" => o with { PeerDevice = Next() },
                "--size" => o with { Size = Int() },
                "--scale" => o with { Scale = Int() },
                "--params" => o with { Params = [.. Next().Split(',').Select(s => long.Parse(s, CultureInfo.InvariantCulture))] },
                "--tasks" => o with { Tasks = Int() },
                "--only" => o with { Only = Next() },
                _ => throw new ArgumentException($"unknown argument '{args[i]}'."),
            };
        }
        if (o.Repeats < 1 || o.Size < 1 || o.Scale < 1 || o.Tasks < 2 || o.Params.Any(p => p < 8 || p > int.MaxValue / 4))
            throw new ArgumentException("--repeats, --size, --scale must be ≥ 1, --tasks ≥ 2, each of --params in [8, 2^29].");
        return o;
    }

    /// <summary>The arguments every peer run gets: its device and the timer's settings.</summary>
    public string[] PeerArguments(params string[] more) =>
        ["--device", EffectivePeerDevice, "--repeats", Repeats.ToString(CultureInfo.InvariantCulture),
         "--block-ms", BlockMs.ToString(CultureInfo.InvariantCulture), "--warmup-ms", WarmupMs.ToString(CultureInfo.InvariantCulture), .. more];
}

/// <summary>
/// <c>gpu gemm|adam|gram|steps [options]</c>: the engine's side of Bench/gpu-run.sh, one part per subcommand, each
/// printing a Markdown table with the PyTorch peer's figures beside ours (Bench/peers/torch_gpu_kernels.py for the
/// kernels, Bench/peers/torch_mtl.py for the steps, started after our measurements so they never share the device).
/// <c>--device cuda</c> (default) on the GPU machine; a dry run uses <c>--device ilgpu-cpu</c> or <c>cpu</c> with tiny
/// sizes and the peer on the CPU. Exit code 0, 2 on bad arguments.
/// </summary>
public static class GpuCommand
{
    public const string Usage = "gpu gemm|adam|gram|steps [--device cuda|ilgpu-cpu|cpu] [--repeats 5] [--block-ms 20] [--warmup-ms 500] " +
        "[--python python3] [--no-peer] [--peer-device cuda|cpu] [--size 4096] [--scale 1] [--params 10000000,100000000] [--tasks 4] " +
        "[--only small,medium,large]";

    public static int Run(string[] args)
    {
        GpuOptions options;
        try
        {
            if (args.Length == 0 || args[0] is not ("gemm" or "adam" or "gram" or "steps")) throw new ArgumentException("which part?");
            options = GpuOptions.Parse(args[1..]);
        }
        catch (Exception e) when (e is ArgumentException or FormatException or OverflowException)
        {
            Console.Error.WriteLine($"gpu: {e.Message} Usage: {Usage}");
            return 2;
        }
        using var backend = Device.Create(options.Device);
        Console.WriteLine($"gpu {args[0]} on {backend.Info.Name} ({backend.Info.Kind}); timer: {options.Repeats} blocks of ≈ {options.BlockMs} ms, " +
                          $"one sync per block, after {options.WarmupMs} ms of warm-up (Bench/Gpu/BlockTimer.cs)");
        Console.WriteLine();
        int threads = Environment.ProcessorCount;
        var kernels = options.Peer ? new TorchPeer(options.Python, threads, "torch_gpu_kernels.py") : null;
        switch (args[0])
        {
            case "gemm": GpuGemm.Run(backend, options, kernels); break;
            case "adam": GpuAdam.Run(backend, options, kernels); break;
            case "gram": GpuGram.Run(backend, options, kernels); break;
            default: GpuSteps.Run(backend, options, options.Peer ? new TorchPeer(options.Python, threads) : null); break;
        }
        return 0;
    }

    /// <summary>The peer's note line, or why it did not run.</summary>
    internal static void PeerNote(TorchPeer? peer) =>
        Console.WriteLine(peer is null ? "Peer: not run (--no-peer)." : $"Peer: {(peer.Available ? "" : "NOT AVAILABLE: ")}{peer.Note}");

    internal static BlockTiming Time(Backend<float> backend, GpuOptions o, Action call) =>
        BlockTimer.Measure(call, backend.Synchronize, o.Repeats, o.BlockMs, o.WarmupMs);

    internal static string Ms(double ms) => ms.ToString(ms < 1 ? "F4" : "F3", CultureInfo.InvariantCulture);

    internal static string Ratio(double? x) => x is double v ? v.ToString("F2", CultureInfo.InvariantCulture) + "×" : "—";
}
