namespace Engine.Kernels;

/// <summary>Which implementation runs the kernels.</summary>
public enum BackendKind
{
    /// <summary>The SIMD CPU path (System.Numerics.Tensors, Vector256/512, its own worker threads).</summary>
    Cpu,
    /// <summary>ILGPU kernels compiled to PTX and run through the CUDA driver.</summary>
    Cuda,
    /// <summary>ILGPU kernels compiled to OpenCL C.</summary>
    OpenCL,
    /// <summary>ILGPU kernels run by ILGPU's CPU accelerator: the GPU code path, without a GPU (slow; for tests).</summary>
    IlgpuCpu,
}

/// <summary>What a device is: its name, backend, memory and (for GPUs) compute capability.</summary>
/// <param name="Name">The device's own name, e.g. "NVIDIA H100 80GB HBM3" or "AMD EPYC (2 cores, AVX2)".</param>
/// <param name="Kind">The backend that runs kernels on it.</param>
/// <param name="MemoryBytes">Memory the device can allocate (device memory on a GPU, physical memory on a CPU).</param>
/// <param name="ComputeCapability">"9.0" for an H100; the widest SIMD instruction set on a CPU.</param>
/// <param name="Parallelism">Cores (CPU) or multiprocessors (GPU).</param>
public sealed record DeviceInfo(string Name, BackendKind Kind, long MemoryBytes, string ComputeCapability, int Parallelism)
{
    /// <summary>A one-line description for logs and the <c>mtl devices</c> command.</summary>
    public override string ToString() =>
        $"{Kind,-8} {Name} | {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB | {ComputeCapability} | {Parallelism} {(Kind == BackendKind.Cpu || Kind == BackendKind.IlgpuCpu ? "cores" : "SMs")}";
}
