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
/// <param name="Name">The device's own name. CUDA, OpenCL and ILGPU's CPU accelerator: the name ILGPU reports (e.g.
/// "NVIDIA H100 80GB HBM3"). The SIMD CPU path: the processor's model from <c>/proc/cpuinfo</c> ("CPU" where there is
/// none), the threads it uses, its widest SIMD set and its precision, e.g. "AMD EPYC 7B13 (2 threads, AVX2, float32)".</param>
/// <param name="Kind">The backend that runs kernels on it.</param>
/// <param name="MemoryBytes">Memory the device can allocate: ILGPU's <c>Accelerator.MemorySize</c> for the ILGPU devices
/// (device memory on a GPU); on the SIMD CPU path the memory the .NET GC may use
/// (<c>GCMemoryInfo.TotalAvailableMemoryBytes</c>: physical memory, or the container's limit).</param>
/// <param name="ComputeCapability">CUDA: "sm_{major}{minor} (PTX {major}.{minor})": the architecture, e.g. sm_90 for an H100,
/// and the PTX ISA version ILGPU emits for it and the installed driver; OpenCL: "OpenCL {C version}"; ILGPU's CPU accelerator: "ILGPU CPU accelerator"; the SIMD CPU path:
/// its widest SIMD set, "AVX-512", "AVX2", "SSE/NEON" or "scalar".</param>
/// <param name="Parallelism">Threads the SIMD CPU path uses, or multiprocessors (GPU; 1 for ILGPU's CPU accelerator as
/// the engine configures it).</param>
public sealed record DeviceInfo(string Name, BackendKind Kind, long MemoryBytes, string ComputeCapability, int Parallelism)
{
    /// <summary>A one-line description for logs and the <c>mtl devices</c> command.</summary>
    public override string ToString() =>
        $"{Kind,-8} {Name} | {MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB | {ComputeCapability} | {Parallelism} {(Kind == BackendKind.Cpu || Kind == BackendKind.IlgpuCpu ? "cores" : "SMs")}";
}
