using Engine.Kernels.Ilgpu;

namespace Engine.Bench;

/// <summary>The devices a float32 benchmark runs on: the SIMD CPU path always, CUDA when this machine has one.</summary>
public static class BenchDevices
{
    /// <summary>"cpu", then "cuda" if <see cref="IlgpuBackend.TryCreateCuda"/> opens a device (it is closed again).</summary>
    public static IEnumerable<string> Float32()
    {
        yield return "cpu";
        using var cuda = IlgpuBackend.TryCreateCuda();
        if (cuda is not null) yield return "cuda";
    }

    /// <summary>"cpu", "ilgpu-cpu" (ILGPU's CPU accelerator: the ILGPU kernel's code path, emulated thread by thread, so its
    /// times say what the kernel does, not what a GPU would take), then "cuda" if one opens: for kernels whose ILGPU form is
    /// new and has no GPU timing yet.</summary>
    public static IEnumerable<string> Float32WithEmulator()
    {
        yield return "cpu";
        yield return "ilgpu-cpu";
        using var cuda = IlgpuBackend.TryCreateCuda();
        if (cuda is not null) yield return "cuda";
    }
}
