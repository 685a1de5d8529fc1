using Engine.Kernels.Cpu;
using Engine.Kernels.Ilgpu;

namespace Engine.Kernels;

/// <summary>
/// Picks the device that runs the float32 kernels: automatically (CUDA if present, else the SIMD
/// CPU path), by name in code, or for a whole test or benchmark run through the
/// <c>ENGINE_DEVICE</c> environment variable.
/// Names: <c>auto</c>, <c>cpu</c>, <c>cuda</c>, <c>opencl</c>, <c>ilgpu-cpu</c>.
/// </summary>
public static class Device
{
    /// <summary>The environment variable that overrides <c>auto</c> for a whole run.</summary>
    public const string EnvironmentVariable = "ENGINE_DEVICE";

    /// <summary>The names <see cref="Create(string?)"/> accepts.</summary>
    public static readonly IReadOnlyList<string> Names = ["auto", "cpu", "cuda", "opencl", "ilgpu-cpu"];

    /// <summary>
    /// Creates the device called <paramref name="name"/>. <c>auto</c> (or null) first honours
    /// <c>ENGINE_DEVICE</c>, then tries CUDA, then takes the SIMD CPU path. OpenCL is never chosen automatically:
    /// no test has run the kernels on an OpenCL device (docs/gpu.md), while the CPU path is tested on every run;
    /// name <c>opencl</c> to use it.
    /// Naming a GPU that is not present, or that fails to start, throws <see cref="InvalidOperationException"/>
    /// naming the device and the reason (and <c>ENGINE_DEVICE</c> when the name came from it).
    /// </summary>
    public static Backend<float> Create(string? name = "auto") =>
        Create(name, Environment.GetEnvironmentVariable(EnvironmentVariable));

    /// <summary><see cref="Create(string?)"/> with the value of <c>ENGINE_DEVICE</c> passed in (so tests need not set it).</summary>
    internal static Backend<float> Create(string? name, string? fromEnvironment)
    {
        string choice = (name ?? "auto").Trim().ToLowerInvariant();
        if (choice == "auto")
        {
            if (!string.IsNullOrWhiteSpace(fromEnvironment) && fromEnvironment.Trim().ToLowerInvariant() != "auto")
            {
                try { return Create(fromEnvironment.Trim(), null); }
                catch (Exception error) when (error is InvalidOperationException or ArgumentException)
                {
                    throw new InvalidOperationException($"{EnvironmentVariable}={fromEnvironment.Trim()}: {error.Message}", error);
                }
            }
            return (Backend<float>?)IlgpuBackend.TryCreateCuda() ?? new CpuBackend<float>();
        }
        return choice switch
        {
            "cpu" => new CpuBackend<float>(),
            "cuda" => IlgpuBackend.CreateCuda(),
            "opencl" => IlgpuBackend.CreateOpenCL(),
            "ilgpu-cpu" => IlgpuBackend.CreateCpuEmulated(),
            _ => throw new ArgumentException($"Unknown device '{name}'. Known devices: {string.Join(", ", Names)}.", nameof(name)),
        };
    }

    /// <summary>Every device this machine has, described (each is opened and closed again).</summary>
    public static IReadOnlyList<DeviceInfo> Describe()
    {
        var found = new List<DeviceInfo>();
        using (var cpu = new CpuBackend<float>()) found.Add(cpu.Info);
        foreach (var make in new Func<IlgpuBackend?>[] { IlgpuBackend.TryCreateCuda, IlgpuBackend.TryCreateOpenCL })
        {
            using var backend = make();
            if (backend is not null) found.Add(backend.Info);
        }
        return found;
    }
}
