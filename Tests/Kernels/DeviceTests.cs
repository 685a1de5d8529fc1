using Engine.Kernels;
using Engine.Kernels.Ilgpu;

namespace Engine.Tests.Kernels;

/// <summary>Device selection: a GPU asked for by name (or through ENGINE_DEVICE) that this machine cannot open
/// must fail with a message that names the device and the reason, not with ILGPU's internals.</summary>
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
    public void Auto_without_engine_device_falls_back_to_a_working_device()
    {
        using var backend = Device.Create("auto", fromEnvironment: null);
        Assert.True(backend.Info.Kind is BackendKind.Cuda or BackendKind.OpenCL or BackendKind.Cpu, $"auto chose {backend.Info}");
        using var cpu = Device.Create("auto", fromEnvironment: "cpu");
        Assert.Equal(BackendKind.Cpu, cpu.Info.Kind);
    }
}
