using ILGPU;
using ILGPU.Runtime;
using ILGPU.Runtime.CPU;
using ILGPU.Runtime.Cuda;
using ILGPU.Runtime.OpenCL;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// The GPU path: hand-written ILGPU kernels, compiled by ILGPU to CUDA PTX or OpenCL C, or executed by
/// ILGPU's CPU accelerator (the same kernels, slowly, without a GPU: that is how CI tests them).
/// Each kernel is compiled once, on first use, and cached (loading a kernel compiles it).
/// All launches go to the accelerator's default stream, in program order.
/// </summary>
public sealed partial class IlgpuBackend : Backend<float>
{
    private readonly Context _context;
    private readonly DeviceInfo _info;

    private IlgpuBackend(Context context, Accelerator accelerator, BackendKind kind)
    {
        _context = context;
        Accelerator = accelerator;
        Stream = accelerator.DefaultStream;
        string capability = accelerator switch
        {
            CudaAccelerator cuda => $"sm_{(int)cuda.Architecture.Major}{(int)cuda.Architecture.Minor} (PTX {cuda.InstructionSet})",
            CLAccelerator cl => $"OpenCL {cl.CLStdVersion}",
            _ => "ILGPU CPU accelerator",
        };
        _info = new DeviceInfo(accelerator.Name, kind, accelerator.MemorySize, capability, accelerator.NumMultiprocessors);
    }

    /// <summary>The ILGPU accelerator running the kernels.</summary>
    public Accelerator Accelerator { get; }

    /// <summary>The stream every kernel is launched on.</summary>
    public AcceleratorStream Stream { get; }

    /// <inheritdoc/>
    public override DeviceInfo Info => _info;

    /// <summary>Creates a context with the algorithms library enabled, optimisation on and assertions off.</summary>
    private static Context CreateContext() =>
        Context.Create(builder => builder.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));

    /// <summary>ILGPU's CPU accelerator: runs the GPU kernels on the host (for tests without a GPU).</summary>
    public static IlgpuBackend CreateCpuEmulated()
    {
        var context = CreateContext();
        try
        {
            // Emulate an NVIDIA-shaped multiprocessor (warp 32, 8 warps = groups of up to 256 threads) so
            // explicitly grouped kernels run with the same group sizes and warp width as on CUDA
            // (ILGPU's default CPU device allows only 16 threads per group).
            var device = new CPUDevice(numThreadsPerWarp: 32, numWarpsPerMultiprocessor: 8, numMultiprocessors: 1);
            return new IlgpuBackend(context, device.CreateAccelerator(context), BackendKind.IlgpuCpu);
        }
        catch { context.Dispose(); throw; }
    }

    /// <summary>The first CUDA device, or null when there is none (no driver, no GPU).</summary>
    public static IlgpuBackend? TryCreateCuda() => TryCreate(ctx => First(ctx.GetCudaDevices()), BackendKind.Cuda);

    /// <summary>The first OpenCL GPU, or null when there is none.</summary>
    public static IlgpuBackend? TryCreateOpenCL() => TryCreate(ctx => FirstGpu(ctx.GetCLDevices()), BackendKind.OpenCL);

    private static ILGPU.Runtime.Device? First(Context.DeviceCollection<CudaDevice> devices)
    {
        foreach (var device in devices) return device;
        return null;
    }

    private static ILGPU.Runtime.Device? FirstGpu(Context.DeviceCollection<CLDevice> devices)
    {
        foreach (var device in devices)
            if (device.DeviceType == CLDeviceType.CL_DEVICE_TYPE_GPU) return device;
        return null;
    }

    private static IlgpuBackend? TryCreate(Func<Context, ILGPU.Runtime.Device?> pick, BackendKind kind)
    {
        Context? context = null;
        try
        {
            context = CreateContext();
            var device = pick(context);
            if (device is null) { context.Dispose(); return null; }
            return new IlgpuBackend(context, device.CreateAccelerator(context), kind);
        }
        catch (Exception) when (context is not null)
        {
            // No driver library, an unsupported architecture, or a device that fails to start:
            // report "not available" and let the caller fall back (Device.Describe tells why).
            context.Dispose();
            return null;
        }
    }

    /// <inheritdoc/>
    public override DeviceBuffer<TElement> Allocate<TElement>(int length) => new IlgpuBuffer<TElement>(this, Accelerator, length);

    /// <inheritdoc/>
    public override void Upload<TElement>(ReadOnlySpan<TElement> source, View<TElement> destination)
    {
        Check.Owned(this, destination, nameof(destination));
        if (source.Length != destination.Length)
            throw new ArgumentException($"Upload of {source.Length} elements into a view of {destination.Length}.", nameof(destination));
        if (source.Length == 0) return;
        destination.Ilgpu().CopyFromCPU(Stream, source);
    }

    /// <inheritdoc/>
    public override void Download<TElement>(View<TElement> source, Span<TElement> destination)
    {
        Check.Owned(this, source, nameof(source));
        if (source.Length != destination.Length)
            throw new ArgumentException($"Download of a view of {source.Length} elements into {destination.Length}.", nameof(destination));
        if (source.Length == 0) return;
        source.Ilgpu().CopyToCPU(Stream, destination);
        Stream.Synchronize();
    }

    /// <inheritdoc/>
    public override void Synchronize() => Stream.Synchronize();

    /// <inheritdoc/>
    public override void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}
