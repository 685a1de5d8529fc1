using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;

namespace Engine.Tests.Infrastructure;

/// <summary>
/// The float32 devices every parity test runs on: the SIMD CPU path, ILGPU's CPU accelerator (the GPU
/// kernels without a GPU), and CUDA when the machine has it (otherwise those cases skip, saying why).
/// The float64 SIMD path is the reference. Backends are created once per test run and shared:
/// ILGPU compiles each kernel once per accelerator, so sharing keeps the suite fast.
/// Set ENGINE_TEST_DEVICES (e.g. "cpu,cuda") to choose the float32 devices for a whole run.
/// </summary>
public static class TestDevices
{
    public const string Cpu = "cpu";
    public const string IlgpuCpu = "ilgpu-cpu";
    public const string Cuda = "cuda";

    private static readonly Lazy<CpuBackend<double>> s_reference = new(() => new CpuBackend<double>());
    private static readonly Lazy<CpuBackend<float>> s_cpu = new(() => new CpuBackend<float>());
    private static readonly Lazy<IlgpuBackend> s_ilgpuCpu = new(IlgpuBackend.CreateCpuEmulated);
    private static readonly Lazy<(IlgpuBackend? Backend, string? Failure)> s_cuda = new(() =>
    {
        try { return (IlgpuBackend.CreateCuda(), null); }
        catch (InvalidOperationException error) { return (null, error.Message); }
    });

    /// <summary>The float64 reference backend.</summary>
    public static CpuBackend<double> Reference => s_reference.Value;

    /// <summary>Names of the float32 devices to test, for [MemberData].</summary>
    public static TheoryData<string> Float32
    {
        get
        {
            var data = new TheoryData<string>();
            foreach (var name in Selected()) data.Add(name);
            return data;
        }
    }

    /// <summary>Every float32 device with a switch off and on (e.g. overwrite/accumulate, end to end/detached), for [MemberData].</summary>
    public static TheoryData<string, bool> Float32WithSwitch
    {
        get
        {
            var data = new TheoryData<string, bool>();
            foreach (var name in Selected()) { data.Add(name, false); data.Add(name, true); }
            return data;
        }
    }

    private static IEnumerable<string> Selected()
    {
        string? only = Environment.GetEnvironmentVariable("ENGINE_TEST_DEVICES");
        return string.IsNullOrWhiteSpace(only)
            ? [Cpu, IlgpuCpu, Cuda]
            : only.Split(',', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries);
    }

    /// <summary>The shared float32 backend called <paramref name="name"/>; skips the test when it is a GPU this machine lacks.</summary>
    public static Backend<float> Get(string name) => name switch
    {
        Cpu => s_cpu.Value,
        IlgpuCpu => s_ilgpuCpu.Value,
        Cuda => s_cuda.Value.Backend ?? throw NoGpu(s_cuda.Value.Failure!),
        _ => throw new ArgumentException($"Unknown test device '{name}'."),
    };

    /// <summary>True when the device is slow (ILGPU's CPU accelerator): tests then use smaller sizes.</summary>
    public static bool IsEmulated(string name) => name == IlgpuCpu;

    /// <summary>Without a CUDA device a cuda case skips, saying why, unless ENGINE_TEST_DEVICES names cuda: then it fails,
    /// so that a run on the GPU machine cannot pass by skipping every CUDA case (docs/gpu.md).</summary>
    private static Exception NoGpu(string reason)
    {
        string? only = Environment.GetEnvironmentVariable("ENGINE_TEST_DEVICES");
        if (!string.IsNullOrWhiteSpace(only) && Selected().Contains(Cuda))
            return new InvalidOperationException($"ENGINE_TEST_DEVICES={only} asks for cuda: {reason}");
        Assert.Skip($"No CUDA device on this machine: {reason} Run the suite on the GPU machine: see docs/gpu.md.");
        return new InvalidOperationException("unreachable");
    }
}
