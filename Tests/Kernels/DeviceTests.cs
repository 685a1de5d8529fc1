using System.Runtime.Intrinsics;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;

namespace Engine.Tests.Kernels;

/// <summary>Device selection: a GPU asked for by name (or through ENGINE_DEVICE) that this machine cannot open
/// must fail with a message that names the device and the reason, not with ILGPU's internals; the devices that every
/// machine has (cpu, ilgpu-cpu) report what <see cref="DeviceInfo"/> documents.</summary>
public class DeviceTests
{
    private static void SkipIfCudaPresent()
    {
        using var cuda = IlgpuBackend.TryCreateCuda();
        if (cuda is not null) Assert.Skip("This machine has a CUDA device; the message for a missing one cannot be observed here.");
    }

    [Fact]
    public void Asking_for_cuda_without_a_gpu_names_the_device_and_the_reason()
    {
        SkipIfCudaPresent();
        var error = Assert.Throws<InvalidOperationException>(() => Device.Create("cuda", fromEnvironment: null));
        Assert.Contains("Device 'cuda' is not available", error.Message);
        Assert.Contains("no CUDA device was found", error.Message);
        Assert.Contains("libcuda.so", error.Message);
        Assert.DoesNotContain("ILGPU.", error.Message); // no internal type names
    }

    [Fact]
    public void Engine_device_cuda_without_a_gpu_names_the_variable_the_device_and_the_reason()
    {
        SkipIfCudaPresent();
        var error = Assert.Throws<InvalidOperationException>(() => Device.Create("auto", fromEnvironment: "cuda"));
        Assert.StartsWith("ENGINE_DEVICE=cuda: Device 'cuda' is not available: no CUDA device was found", error.Message);
    }

    [Fact]
    public void Engine_device_with_an_unknown_name_names_the_variable_and_the_known_devices()
    {
        var error = Assert.Throws<InvalidOperationException>(() => Device.Create(null, fromEnvironment: " TPU "));
        Assert.StartsWith("ENGINE_DEVICE=TPU: Unknown device 'TPU'", error.Message);
        foreach (var name in Device.Names) Assert.Contains(name, error.Message);
    }

    [Fact]
    public void Auto_falls_back_to_a_working_device_and_honours_engine_device()
    {
        using var backend = Device.Create("auto", fromEnvironment: null);
        // CUDA when the machine has it, else the SIMD CPU path: never OpenCL (untested) nor ILGPU's CPU accelerator.
        var expected = IsCudaPresent() ? BackendKind.Cuda : BackendKind.Cpu;
        Assert.Equal(expected, backend.Info.Kind);
        // ilgpu-cpu, not cpu: auto never picks ILGPU's CPU accelerator by itself, so only ENGINE_DEVICE can have chosen it.
        using var chosen = Device.Create("auto", fromEnvironment: " ILGPU-CPU ");
        Assert.Equal(BackendKind.IlgpuCpu, chosen.Info.Kind);
    }

    private static bool IsCudaPresent()
    {
        using var cuda = IlgpuBackend.TryCreateCuda();
        return cuda is not null;
    }

    /// <summary>The SIMD set the CPU backend must report on this machine, worked out independently of it.</summary>
    private static string ExpectedSimd() =>
        Vector512.IsHardwareAccelerated ? "AVX-512" : Vector256.IsHardwareAccelerated ? "AVX2" : Vector128.IsHardwareAccelerated ? "SSE/NEON" : "scalar";

    /// <summary>The line <see cref="DeviceInfo.ToString"/> must print: name, kind, memory in GiB, capability, parallelism.</summary>
    private static void AssertDescribed(DeviceInfo info)
    {
        string line = info.ToString();
        Assert.Contains(info.Kind.ToString(), line);
        Assert.Contains(info.Name, line);
        Assert.Contains($"{info.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB", line);
        Assert.Contains(info.ComputeCapability, line);
        Assert.EndsWith($"{info.Parallelism} cores", line); // both CPU kinds count cores
    }

    [Fact]
    public void Cpu_by_name_reports_its_model_threads_simd_and_gc_memory()
    {
        using var backend = Device.Create("cpu", fromEnvironment: "cuda"); // a name, not auto: ENGINE_DEVICE plays no part
        var info = backend.Info;
        Assert.IsType<CpuBackend<float>>(backend);
        Assert.Equal(BackendKind.Cpu, info.Kind);
        string simd = ExpectedSimd();
        Assert.Equal(simd, info.ComputeCapability);
        Assert.Equal(Environment.ProcessorCount, info.Parallelism);
        Assert.Equal(GC.GetGCMemoryInfo().TotalAvailableMemoryBytes, info.MemoryBytes);
        Assert.True(info.MemoryBytes > 0, $"memory {info.MemoryBytes}");
        // "{model} ({threads} threads, {simd}, float32)", the model from /proc/cpuinfo where it names one.
        string? model = File.Exists("/proc/cpuinfo")
            ? File.ReadLines("/proc/cpuinfo").Where(l => l.StartsWith("model name", StringComparison.Ordinal))
                .Select(l => string.Join(' ', l[(l.IndexOf(':') + 1)..].Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries)))
                .FirstOrDefault(m => m.Length > 0)
            : null;
        Assert.Equal($"{model ?? "CPU"} ({Environment.ProcessorCount} threads, {simd}, float32)", info.Name);
        AssertDescribed(info);

        using var wide = new CpuBackend<double>(threads: 3);
        Assert.EndsWith($"(3 threads, {simd}, float64)", wide.Info.Name);
        Assert.Equal(3, wide.Info.Parallelism);
    }

    [Fact]
    public void Ilgpu_cpu_by_name_reports_the_emulated_accelerator()
    {
        using var backend = Device.Create("ilgpu-cpu", fromEnvironment: "cpu");
        var info = backend.Info;
        var ilgpu = Assert.IsType<IlgpuBackend>(backend);
        Assert.Equal(BackendKind.IlgpuCpu, info.Kind);
        Assert.Equal(ilgpu.Accelerator.Name, info.Name);
        Assert.False(string.IsNullOrWhiteSpace(info.Name));
        Assert.Equal("ILGPU CPU accelerator", info.ComputeCapability);
        Assert.Equal(1, info.Parallelism); // one emulated multiprocessor (IlgpuBackend.CreateCpuEmulated)
        Assert.Equal(ilgpu.Accelerator.MemorySize, info.MemoryBytes);
        Assert.True(info.MemoryBytes > 0, $"memory {info.MemoryBytes}");
        AssertDescribed(info);
    }

    [Fact]
    public void Describe_lists_this_cpu_first_and_only_real_devices()
    {
        var found = Device.Describe();
        using var cpu = new CpuBackend<float>();
        Assert.Equal(cpu.Info, found[0]); // record equality: name, kind, memory, capability, parallelism
        Assert.Single(found, d => d.Kind == BackendKind.Cpu);
        // ILGPU's CPU accelerator is a test device, not hardware: Describe() does not list it.
        Assert.All(found, d => Assert.True(d.Kind is BackendKind.Cpu or BackendKind.Cuda or BackendKind.OpenCL, d.ToString()));
        Assert.All(found, d => Assert.True(d.MemoryBytes > 0 && d.Parallelism > 0 && d.Name.Length > 0, d.ToString()));
        using var cuda = IlgpuBackend.TryCreateCuda();
        Assert.Equal(cuda is not null, found.Any(d => d.Kind == BackendKind.Cuda));
        if (cuda is not null) Assert.Matches(@"^sm_\d+ \(PTX \d+\.\d+\)$", found.First(d => d.Kind == BackendKind.Cuda).ComputeCapability);
    }

    [Theory]
    [InlineData("tpu")]
    [InlineData("cuda0")]
    [InlineData("")]
    public void An_unknown_device_name_throws_naming_it_and_the_known_names(string name)
    {
        var error = Assert.Throws<ArgumentException>(() => Device.Create(name, fromEnvironment: "cpu"));
        Assert.Equal("name", error.ParamName);
        Assert.Contains($"Unknown device '{name}'", error.Message);
        foreach (var known in Device.Names) Assert.Contains(known, error.Message);
    }

    [Theory]
    [InlineData("model name\t: AMD EPYC 7B13 64-Core Processor\nflags\t\t: fpu avx2\n", "AMD EPYC 7B13 64-Core Processor")]
    [InlineData("processor\t: 0\nvendor_id\t: GenuineIntel\nmodel\t\t: 85\nmodel name\t:  Intel(R)  Xeon(R) CPU @ 2.20GHz \n" +
                "processor\t: 1\nmodel name\t: Other\n", "Intel(R) Xeon(R) CPU @ 2.20GHz")]
    [InlineData("processor\t: 0\nBogoMIPS\t: 50.00\nCPU implementer\t: 0x41\n", null)] // ARM: no model name line
    [InlineData("model name\t:   \n", null)]
    [InlineData("", null)]
    [InlineData(null, null)]
    public void Cpu_model_is_the_first_model_name_line_of_proc_cpuinfo(string? cpuinfo, string? expected)
    {
        Assert.Equal(expected, CpuModel.FromCpuInfo(cpuinfo));
        Assert.Equal($"{expected ?? "CPU"} (2 threads, AVX2, float32)", CpuModel.DeviceName(expected, 2, "AVX2", "float32"));
    }
}
