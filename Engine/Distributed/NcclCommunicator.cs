using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;
using Engine.Kernels;
using Engine.Kernels.Ilgpu;

namespace Engine.Distributed;

/// <summary>
/// NCCL over CUDA device memory, one GPU per rank: the step's one all-reduce and the broadcast run on the GPU
/// (NVLink/PCIe/InfiniBand, ring or tree), enqueued on the ILGPU accelerator's own CUDA stream, so they are ordered
/// after the backward kernels and before the combiner's without a host synchronisation and without leaving the device.
/// The processes are started by mpirun: the <see cref="MpiCommunicator"/> gives rank and size, broadcasts rank 0's
/// ncclUniqueId (the bootstrap NCCL needs), and carries the host-side collectives (metric sums, the weight-hash
/// check, barrier, abort).
/// <para><b>Not run in this repository</b>: no GPU was available. It compiles, and without libnccl or a CUDA backend it
/// fails with a message (tests: NcclCommunicatorTests); docs/scale-out.md says what a GPU run must check.</para>
/// </summary>
public sealed unsafe class NcclCommunicator : ICommunicator
{
    private readonly NcclLibrary _nccl;
    private readonly ICommunicator _host;
    private readonly nint _stream;
    private nint _comm;

    private NcclCommunicator(NcclLibrary nccl, ICommunicator host, Backend<float> backend)
    {
        _nccl = nccl;
        _host = host;
        _stream = CudaStreamOf(backend);
        var id = default(NcclLibrary.UniqueId);
        if (host.Rank == 0) nccl.Check(nccl.GetUniqueId(&id), "ncclGetUniqueId");
        BroadcastUniqueId(host, ref id);
        nint comm;
        nccl.Check(nccl.CommInitRank(&comm, host.Size, id, host.Rank), "ncclCommInitRank");
        _comm = comm;
        Description = $"{nccl.Version()} over {host.Description}";
    }

    /// <summary>NCCL for the ranks of <paramref name="host"/> (usually <see cref="MpiCommunicator"/>), on the CUDA
    /// device of <paramref name="backend"/>. Throws <see cref="CommunicatorException"/> when the backend is not CUDA
    /// or libnccl cannot be opened.</summary>
    public static NcclCommunicator Create(ICommunicator host, Backend<float> backend)
    {
        ArgumentNullException.ThrowIfNull(host);
        ArgumentNullException.ThrowIfNull(backend);
        CudaStreamOf(backend);                     // the backend check first: it needs no library
        return new NcclCommunicator(NcclLibrary.Load(), host, backend);
    }

    /// <inheritdoc/>
    public int Rank => _host.Rank;

    /// <inheritdoc/>
    public int Size => _host.Size;

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public void AllReduceSum(View<float> buffer)
    {
        if (buffer.Length == 0) return;
        nint p = DevicePointer(buffer);
        _nccl.Check(_nccl.AllReduce(p, p, (nuint)buffer.Length, NcclLibrary.Float32, NcclLibrary.Sum, _comm, _stream), "ncclAllReduce");
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values) => _host.AllReduceSum(values);

    /// <inheritdoc/>
    public void Broadcast(View<float> buffer, int root)
    {
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"The world has ranks 0 … {Size - 1}.");
        if (buffer.Length == 0) return;
        nint p = DevicePointer(buffer);
        _nccl.Check(_nccl.Broadcast(p, p, (nuint)buffer.Length, NcclLibrary.Float32, root, _comm, _stream), "ncclBroadcast");
    }

    /// <inheritdoc/>
    public void Barrier() => _host.Barrier();

    /// <inheritdoc/>
    public bool AllAgree(long value) => _host.AllAgree(value);

    /// <inheritdoc/>
    public void Abort(int exitCode)
    {
        if (_comm != 0) _nccl.CommAbort(_comm);
        _comm = 0;
        _host.Abort(exitCode);
    }

    /// <summary>Destroys the NCCL communicator (not the host one: its owner disposes it).</summary>
    public void Dispose()
    {
        if (_comm == 0) return;
        _nccl.CommDestroy(_comm);
        _comm = 0;
    }

    /// <summary>The 128 bytes of rank 0's id to every rank, through the host communicator's float broadcast
    /// (32 floats: a bit-exact copy, no arithmetic is done on them).</summary>
    private static void BroadcastUniqueId(ICommunicator host, ref NcclLibrary.UniqueId id)
    {
        using var backend = Engine.Kernels.Device.Create("cpu");
        using var staging = backend.Allocate<float>(NcclLibrary.UniqueIdBytes / sizeof(float));
        var bytes = new Span<byte>(System.Runtime.CompilerServices.Unsafe.AsPointer(ref id), NcclLibrary.UniqueIdBytes);
        backend.Upload<float>(System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes), staging.View);
        host.Broadcast(staging.View, 0);
        backend.Download(staging.View, System.Runtime.InteropServices.MemoryMarshal.Cast<byte, float>(bytes));
    }

    private static nint CudaStreamOf(Backend<float> backend)
    {
        using var probe = backend.Allocate<float>(1);
        if (probe is not IlgpuBuffer<float> { Memory.Accelerator: CudaAccelerator cuda })
            throw new CommunicatorException($"NCCL reduces CUDA device memory, but the backend is {backend.Info}: use --device cuda, or --distributed mpi on CPUs.");
        return ((CudaStream)cuda.DefaultStream).StreamPtr;
    }

    private static nint DevicePointer(View<float> view)
    {
        if (view.Buffer is not IlgpuBuffer<float> buffer || buffer.Memory.Accelerator is not CudaAccelerator)
            throw new ArgumentException($"{view} is not CUDA device memory: NCCL reduces buffers of the CUDA backend.", nameof(view));
        return buffer.Memory.NativePtr + (nint)view.Offset * sizeof(float);
    }
}
