using Engine.Kernels;
using Engine.Kernels.Cpu;

namespace Engine.Distributed;

/// <summary>
/// MPI_COMM_WORLD of Open MPI: the processes <c>mpirun -np N</c> started (one process alone, started without mpirun,
/// is a world of one). Every collective is one blocking MPI call on host memory:
/// <list type="bullet">
/// <item>a view of the SIMD CPU backend is passed by pointer (no copy): <c>MPI_Allreduce(MPI_IN_PLACE, p, n, MPI_FLOAT, MPI_SUM)</c>;</item>
/// <item>a view of any other backend (ILGPU: CUDA, OpenCL, its CPU accelerator) is downloaded into a pinned host
/// array, reduced, and uploaded back: a host round-trip per collective (use <see cref="NcclCommunicator"/> on GPUs).</item>
/// </list>
/// Errors return (MPI_ERRORS_RETURN on the communicator) and become <see cref="CommunicatorException"/>s, so the
/// caller can print them and <see cref="Abort"/> the job instead of hanging the other ranks.
/// </summary>
public sealed unsafe class MpiCommunicator : ICommunicator
{
    private readonly MpiLibrary _mpi;
    private float[] _staging = [];
    private readonly long[] _agree = new long[2];
    private bool _disposed;

    private MpiCommunicator(MpiLibrary mpi)
    {
        _mpi = mpi;
        int flag;
        mpi.Check(mpi.Initialized(&flag), "MPI_Initialized");
        if (flag == 0)
        {
            int provided;
            mpi.Check(mpi.InitThread(null, 0, MpiLibrary.ThreadSerialized, &provided), "MPI_Init_thread");
            if (provided < MpiLibrary.ThreadSerialized)
                throw new CommunicatorException($"MPI_Init_thread provided thread level {provided}; the trainer needs MPI_THREAD_SERIALIZED (2): it may call MPI from a worker thread.");
        }
        mpi.Check(mpi.CommSetErrhandler(mpi.CommWorld, mpi.ErrorsReturn), "MPI_Comm_set_errhandler");
        int rank, size;
        mpi.Check(mpi.CommRank(mpi.CommWorld, &rank), "MPI_Comm_rank");
        mpi.Check(mpi.CommSize(mpi.CommWorld, &size), "MPI_Comm_size");
        Rank = rank;
        Size = size;
        Description = $"{mpi.Version()}, rank {rank} of {size}";
    }

    /// <summary>Initializes MPI (once per process) and returns MPI_COMM_WORLD. Throws <see cref="CommunicatorException"/>
    /// when libmpi cannot be opened, naming what was tried.</summary>
    public static MpiCommunicator Create() => new(MpiLibrary.Load());

    /// <summary>True when an MPI library can be opened on this machine (without initializing it).</summary>
    public static bool IsAvailable()
    {
        try { MpiLibrary.Load(); return true; }
        catch (CommunicatorException) { return false; }
    }

    /// <inheritdoc/>
    public int Rank { get; }

    /// <inheritdoc/>
    public int Size { get; }

    /// <inheritdoc/>
    public string Description { get; }

    /// <inheritdoc/>
    public void AllReduceSum(View<float> buffer)
    {
        if (buffer.Length == 0) return;
        if (buffer.Buffer is CpuBuffer<float>)
        {
            _mpi.Check(_mpi.Allreduce(MpiLibrary.InPlace, (nint)buffer.Pointer(), buffer.Length, _mpi.Float, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce");
            return;
        }
        var host = Stage(buffer);
        fixed (float* p = host)
            _mpi.Check(_mpi.Allreduce(MpiLibrary.InPlace, (nint)p, buffer.Length, _mpi.Float, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce");
        buffer.Buffer!.Owner.Upload<float>(host.AsSpan(0, buffer.Length), buffer);
    }

    /// <inheritdoc/>
    public void AllReduceSum(Span<double> values)
    {
        if (values.IsEmpty) return;
        fixed (double* p = values)
            _mpi.Check(_mpi.Allreduce(MpiLibrary.InPlace, (nint)p, values.Length, _mpi.Double, _mpi.OpSum, _mpi.CommWorld), "MPI_Allreduce");
    }

    /// <inheritdoc/>
    public void Broadcast(View<float> buffer, int root)
    {
        if ((uint)root >= (uint)Size) throw new ArgumentOutOfRangeException(nameof(root), root, $"The world has ranks 0 … {Size - 1}.");
        if (buffer.Length == 0) return;
        if (buffer.Buffer is CpuBuffer<float>)
        {
            _mpi.Check(_mpi.Bcast((nint)buffer.Pointer(), buffer.Length, _mpi.Float, root, _mpi.CommWorld), "MPI_Bcast");
            return;
        }
        var host = Stage(buffer);
        fixed (float* p = host)
            _mpi.Check(_mpi.Bcast((nint)p, buffer.Length, _mpi.Float, root, _mpi.CommWorld), "MPI_Bcast");
        buffer.Buffer!.Owner.Upload<float>(host.AsSpan(0, buffer.Length), buffer);
    }

    /// <inheritdoc/>
    public void Barrier() => _mpi.Check(_mpi.Barrier(_mpi.CommWorld), "MPI_Barrier");

    /// <inheritdoc/>
    public bool AllAgree(long value)
    {
        _agree[0] = value;
        _agree[1] = ~value;                       // ¬ reverses the order of two's-complement integers
        fixed (long* p = _agree)
            _mpi.Check(_mpi.Allreduce(MpiLibrary.InPlace, (nint)p, 2, _mpi.LongLong, _mpi.OpMax, _mpi.CommWorld), "MPI_Allreduce");
        return _agree[0] == ~_agree[1];           // max v == min v
    }

    /// <inheritdoc/>
    public void Abort(int exitCode) => _mpi.Abort(_mpi.CommWorld, exitCode);

    /// <summary>Finalizes MPI (collective: every rank must dispose its communicator).</summary>
    public void Dispose()
    {
        if (_disposed) return;
        _disposed = true;
        int finalized;
        if (_mpi.Finalized(&finalized) == MpiLibrary.Success && finalized == 0) _mpi.Finalize();
    }

    /// <summary>The view downloaded into a pinned host array (grown once to the largest view seen).</summary>
    private float[] Stage(View<float> buffer)
    {
        if (_staging.Length < buffer.Length) _staging = GC.AllocateUninitializedArray<float>(buffer.Length, pinned: true);
        buffer.Buffer!.Owner.Download(buffer, _staging.AsSpan(0, buffer.Length));
        return _staging;
    }
}
