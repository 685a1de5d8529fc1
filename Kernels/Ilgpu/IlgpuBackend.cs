using System.Runtime.CompilerServices;
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

    private long _launches, _hostSyncs, _uploads;

    /// <summary>The stream, for one kernel launch or device-side copy (memset, copy): counts it (<see cref="Counters"/>)
    /// and tells <see cref="LaunchObserver"/>, if set, which backend operation launched it.</summary>
    private AcceleratorStream Launched([CallerMemberName] string operation = "")
    {
        _launches++;
        LaunchObserver?.Invoke(operation);
        return Stream;
    }

    /// <summary>Diagnostics: called with the backend operation's name (a compile-time constant: no allocation) at every
    /// launch counted by <see cref="Counters"/>. Null (the default) costs one test per launch.</summary>
    public Action<string>? LaunchObserver { get; set; }

    /// <summary>Kernel launches (device-side copies included), host synchronisations (<see cref="Synchronize"/> and every
    /// download, which waits for the stream) and uploads since the backend was opened: plain counters, no allocation.
    /// A step's counts are the difference of two readings.</summary>
    public LaunchCounters Counters => new(_launches, _hostSyncs, _uploads);

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

    /// <summary>The first CUDA device, or null when there is none (no driver, no GPU) or it fails to start.</summary>
    public static IlgpuBackend? TryCreateCuda() => OrNull(CreateCuda);

    /// <summary>The first OpenCL GPU, or null when there is none or it fails to start.</summary>
    public static IlgpuBackend? TryCreateOpenCL() => OrNull(CreateOpenCL);

    /// <summary>The first CUDA device; throws <see cref="InvalidOperationException"/> naming the device and the reason
    /// (none found, or found but ILGPU could not start it, with the driver's or ILGPU's own message).</summary>
    public static IlgpuBackend CreateCuda() => Open(ctx => First(ctx.GetCudaDevices()), BackendKind.Cuda, "cuda",
        "no CUDA device was found (no NVIDIA GPU, or the driver library libcuda.so is not on the library path; " +
        "GPU images often ship only libcuda.so.1, which .gpu/run links as libcuda.so)");

    /// <summary>The first OpenCL GPU; throws <see cref="InvalidOperationException"/> naming the device and the reason.</summary>
    public static IlgpuBackend CreateOpenCL() => Open(ctx => FirstGpu(ctx.GetCLDevices()), BackendKind.OpenCL, "opencl",
        "no OpenCL GPU was found (no OpenCL driver, or it lists no GPU)");

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

    private static IlgpuBackend? OrNull(Func<IlgpuBackend> open)
    {
        try { return open(); }
        catch (InvalidOperationException) { return null; } // not available: the caller falls back
    }

    private static IlgpuBackend Open(Func<Context, ILGPU.Runtime.Device?> pick, BackendKind kind, string name, string notFound)
    {
        var context = CreateContext();
        ILGPU.Runtime.Device? device = null;
        try
        {
            device = pick(context); // ILGPU hides driver errors here: a missing driver lists no devices
            if (device is not null) return new IlgpuBackend(context, device.CreateAccelerator(context), kind);
        }
        catch (Exception error)
        {
            // Found but not started: e.g. a driver too old for the PTX ISA ILGPU emits, an architecture it does not
            // support, or a device that is busy or out of memory. Say which device and pass the reason on.
            context.Dispose();
            throw new InvalidOperationException(
                $"Device '{name}' could not be opened: ILGPU failed to start {Describe(device)} ({error.GetType().Name}: {error.Message}).", error);
        }
        context.Dispose();
        throw new InvalidOperationException($"Device '{name}' is not available: {notFound}.");
    }

    /// <summary>A device as a user recognises it: its name and, for CUDA, compute capability and driver version.</summary>
    private static string Describe(ILGPU.Runtime.Device? device) => device switch
    {
        null => "the device",
        CudaDevice cuda => $"{cuda.Name} (compute capability {cuda.Architecture?.Major}.{cuda.Architecture?.Minor}, " +
                           $"CUDA driver {cuda.DriverVersion.Major}.{cuda.DriverVersion.Minor})",
        _ => device.Name,
    };

    /// <inheritdoc/>
    public override DeviceBuffer<TElement> Allocate<TElement>(int length) => new IlgpuBuffer<TElement>(this, Accelerator, length);

    /// <inheritdoc/>
    public override void Upload<TElement>(ReadOnlySpan<TElement> source, View<TElement> destination)
    {
        Check.Owned(this, destination, nameof(destination));
        if (source.Length != destination.Length)
            throw new ArgumentException($"Upload of {source.Length} elements into a view of {destination.Length}.", nameof(destination));
        if (source.Length == 0) return;
        _uploads++;
        destination.Ilgpu().CopyFromCPU(Stream, source);
    }

    /// <inheritdoc/>
    public override void Download<TElement>(View<TElement> source, Span<TElement> destination)
    {
        Check.Owned(this, source, nameof(source));
        if (source.Length != destination.Length)
            throw new ArgumentException($"Download of a view of {source.Length} elements into {destination.Length}.", nameof(destination));
        if (source.Length == 0) return;
        _hostSyncs++;
        source.Ilgpu().CopyToCPU(Stream, destination);
        Stream.Synchronize();
    }

    /// <inheritdoc/>
    public override void Synchronize() { _hostSyncs++; Stream.Synchronize(); }

    /// <inheritdoc/>
    public override void Dispose()
    {
        Accelerator.Dispose();
        _context.Dispose();
    }
}
