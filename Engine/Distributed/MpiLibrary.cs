using System.Runtime.InteropServices;

namespace Engine.Distributed;

/// <summary>
/// The handful of MPI calls data-parallel training needs, bound at run time from Open MPI's <c>libmpi.so</c>
/// (no .NET binding fits: MPI.NET's NuGet package targets Microsoft MPI on Windows; docs/scale-out.md).
/// <para><b>Open MPI's handle ABI.</b> MPI_Comm, MPI_Datatype, MPI_Op and MPI_Errhandler are pointers to structs,
/// and the predefined handles are the ADDRESSES of global objects of the library: MPI_COMM_WORLD is
/// <c>&amp;ompi_mpi_comm_world</c>, MPI_FLOAT <c>&amp;ompi_mpi_float</c>, MPI_SUM <c>&amp;ompi_mpi_op_sum</c>
/// (mpi.h's OMPI_PREDEFINED_GLOBAL). They are read here with dlsym; MPI_IN_PLACE is <c>(void*)1</c>. MPICH and
/// its derivatives use integer handles instead: that ABI is detected (no <c>ompi_mpi_comm_world</c>) and refused
/// with a message rather than called wrongly.</para>
/// <para>The library is opened with RTLD_GLOBAL (as mpi4py does): Open MPI's plug-ins are shared objects that
/// resolve symbols of libmpi when it loads them.</para>
/// </summary>
internal sealed unsafe class MpiLibrary
{
    public const int Success = 0;
    public const int ThreadSerialized = 2;          // enum { SINGLE, FUNNELED, SERIALIZED, MULTIPLE }
    public static readonly nint InPlace = 1;         // MPI_IN_PLACE
    private const int RtldNow = 0x2, RtldGlobal = 0x100;

    /// <summary>Tried in order; MTL_MPI_LIBRARY overrides.</summary>
    public static readonly string[] Candidates = ["libmpi.so.40", "libmpi.so"];

    public nint CommWorld, Float, Double, LongLong, OpSum, OpMax, ErrorsReturn;
    public delegate* unmanaged<int*, int> Initialized, Finalized;
    public delegate* unmanaged<int*, nint, int, int*, int> InitThread;
    public delegate* unmanaged<int> Finalize;
    public delegate* unmanaged<nint, int*, int> CommRank, CommSize;
    public delegate* unmanaged<nint, nint, int, nint, nint, nint, int> Allreduce;
    public delegate* unmanaged<nint, int, nint, int, nint, int> Bcast;
    public delegate* unmanaged<nint, int> Barrier;
    public delegate* unmanaged<nint, int, int> Abort;
    public delegate* unmanaged<nint, nint, int> CommSetErrhandler;
    public delegate* unmanaged<int, byte*, int*, int> ErrorString;
    public delegate* unmanaged<byte*, int*, int> LibraryVersion;

    /// <summary>The path that was opened.</summary>
    public string Path { get; }

    private MpiLibrary(nint handle, string path)
    {
        Path = path;
        nint Symbol(string name) => NativeLibrary.TryGetExport(handle, name, out var address) ? address
            : throw new CommunicatorException($"{path} has no symbol '{name}': not an Open MPI library (MPICH's integer handles are not supported; docs/scale-out.md).");
        CommWorld = Symbol("ompi_mpi_comm_world");
        Float = Symbol("ompi_mpi_float");
        Double = Symbol("ompi_mpi_double");
        LongLong = Symbol("ompi_mpi_long_long_int");
        OpSum = Symbol("ompi_mpi_op_sum");
        OpMax = Symbol("ompi_mpi_op_max");
        ErrorsReturn = Symbol("ompi_mpi_errors_return");
        Initialized = (delegate* unmanaged<int*, int>)Symbol("MPI_Initialized");
        Finalized = (delegate* unmanaged<int*, int>)Symbol("MPI_Finalized");
        InitThread = (delegate* unmanaged<int*, nint, int, int*, int>)Symbol("MPI_Init_thread");
        Finalize = (delegate* unmanaged<int>)Symbol("MPI_Finalize");
        CommRank = (delegate* unmanaged<nint, int*, int>)Symbol("MPI_Comm_rank");
        CommSize = (delegate* unmanaged<nint, int*, int>)Symbol("MPI_Comm_size");
        Allreduce = (delegate* unmanaged<nint, nint, int, nint, nint, nint, int>)Symbol("MPI_Allreduce");
        Bcast = (delegate* unmanaged<nint, int, nint, int, nint, int>)Symbol("MPI_Bcast");
        Barrier = (delegate* unmanaged<nint, int>)Symbol("MPI_Barrier");
        Abort = (delegate* unmanaged<nint, int, int>)Symbol("MPI_Abort");
        CommSetErrhandler = (delegate* unmanaged<nint, nint, int>)Symbol("MPI_Comm_set_errhandler");
        ErrorString = (delegate* unmanaged<int, byte*, int*, int>)Symbol("MPI_Error_string");
        LibraryVersion = (delegate* unmanaged<byte*, int*, int>)Symbol("MPI_Get_library_version");
    }

    private static MpiLibrary? _loaded;
    private static readonly Lock Gate = new();

    /// <summary>Opens libmpi once per process; throws <see cref="CommunicatorException"/> naming what was tried when it is absent.</summary>
    public static MpiLibrary Load()
    {
        lock (Gate)
        {
            if (_loaded is not null) return _loaded;
            var names = Environment.GetEnvironmentVariable("MTL_MPI_LIBRARY") is { Length: > 0 } custom ? [custom] : Candidates;
            var errors = new List<string>();
            foreach (var name in names)
            {
                nint handle = dlopen(name, RtldNow | RtldGlobal);
                if (handle != 0) return _loaded = new MpiLibrary(handle, name);
                errors.Add(Marshal.PtrToStringUTF8(dlerror()) ?? name);
            }
            throw new CommunicatorException($"MPI is not available: could not open {string.Join(" or ", names)} ({string.Join("; ", errors)}). " +
                "Install Open MPI (Debian: apt-get install openmpi-bin libopenmpi-dev) or set MTL_MPI_LIBRARY to libmpi.so's path.");
        }
    }

    /// <summary>Throws <see cref="CommunicatorException"/> with MPI's own text when <paramref name="code"/> is not MPI_SUCCESS.</summary>
    public void Check(int code, string call)
    {
        if (code == Success) return;
        var text = stackalloc byte[512];
        int length = 0;
        string message = ErrorString(code, text, &length) == Success ? Marshal.PtrToStringUTF8((nint)text, length) : $"error code {code}";
        throw new CommunicatorException($"{call} failed: {message}");
    }

    public string Version()
    {
        var text = stackalloc byte[512];
        int length = 0;
        if (LibraryVersion(text, &length) != Success) return "MPI";
        var version = Marshal.PtrToStringUTF8((nint)text, length).Trim('\0', ' ', '\n');
        int comma = version.IndexOf(',');
        return comma > 0 ? version[..comma] : version;
    }

    [DllImport("libc", EntryPoint = "dlopen")]
    private static extern nint dlopen([MarshalAs(UnmanagedType.LPUTF8Str)] string file, int mode);

    [DllImport("libc", EntryPoint = "dlerror")]
    private static extern nint dlerror();
}



