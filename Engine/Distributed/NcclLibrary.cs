using System.Runtime.InteropServices;

namespace Engine.Distributed;

/// <summary>
/// The NCCL calls data-parallel training needs, bound at run time from <c>libnccl.so.2</c> (it ships with CUDA builds
/// of PyTorch, and as NVIDIA's libnccl2 package). Types from nccl.h: ncclComm_t is a pointer; ncclUniqueId is a
/// 128-byte struct passed BY VALUE to ncclCommInitRank; ncclDataType_t and ncclRedOp_t are C enums (int):
/// ncclFloat32 = 7, ncclSum = 0; ncclResult_t 0 is ncclSuccess.
/// </summary>
internal sealed unsafe class NcclLibrary
{
    public const int Success = 0, Float32 = 7, Sum = 0;
    public const int UniqueIdBytes = 128;

    /// <summary>Tried in order; MTL_NCCL_LIBRARY overrides.</summary>
    public static readonly string[] Candidates = ["libnccl.so.2", "libnccl.so"];

    [StructLayout(LayoutKind.Sequential, Size = UniqueIdBytes)]
    public struct UniqueId { private byte _first; }

    public delegate* unmanaged<UniqueId*, int> GetUniqueId;
    public delegate* unmanaged<nint*, int, UniqueId, int, int> CommInitRank;
    public delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> AllReduce;
    public delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int> Broadcast;
    public delegate* unmanaged<nint, int> CommDestroy, CommAbort;
    public delegate* unmanaged<int, nint> GetErrorString;
    public delegate* unmanaged<int*, int> GetVersion;

    private NcclLibrary(nint handle, string path)
    {
        nint Symbol(string name) => NativeLibrary.TryGetExport(handle, name, out var address) ? address
            : throw new CommunicatorException($"{path} has no symbol '{name}': not a NCCL 2 library.");
        GetUniqueId = (delegate* unmanaged<UniqueId*, int>)Symbol("ncclGetUniqueId");
        CommInitRank = (delegate* unmanaged<nint*, int, UniqueId, int, int>)Symbol("ncclCommInitRank");
        AllReduce = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Symbol("ncclAllReduce");
        Broadcast = (delegate* unmanaged<nint, nint, nuint, int, int, nint, nint, int>)Symbol("ncclBroadcast");
        CommDestroy = (delegate* unmanaged<nint, int>)Symbol("ncclCommDestroy");
        CommAbort = (delegate* unmanaged<nint, int>)Symbol("ncclCommAbort");
        GetErrorString = (delegate* unmanaged<int, nint>)Symbol("ncclGetErrorString");
        GetVersion = (delegate* unmanaged<int*, int>)Symbol("ncclGetVersion");
        Path = path;
    }

    public string Path { get; }

    /// <summary>Opens libnccl; throws <see cref="CommunicatorException"/> naming what was tried when it is absent.</summary>
    public static NcclLibrary Load()
    {
        var names = Environment.GetEnvironmentVariable("MTL_NCCL_LIBRARY") is { Length: > 0 } custom ? [custom] : Candidates;
        var errors = new List<string>();
        foreach (var name in names)
        {
            if (NativeLibrary.TryLoad(name, out var handle)) return new NcclLibrary(handle, name);
            errors.Add(name);
        }
        throw new CommunicatorException($"NCCL is not available: could not open {string.Join(" or ", errors)}. " +
            "NCCL needs an NVIDIA GPU and libnccl.so.2 (NVIDIA's libnccl2 package, or the one in a CUDA build of PyTorch: " +
            "set MTL_NCCL_LIBRARY to its path); without a GPU use --distributed mpi.");
    }

    public void Check(int code, string call)
    {
        if (code == Success) return;
        throw new CommunicatorException($"{call} failed: {Marshal.PtrToStringUTF8(GetErrorString(code)) ?? $"ncclResult_t {code}"}");
    }

    public string Version()
    {
        int v;
        if (GetVersion(&v) != Success) return "NCCL";
        return v >= 10000 ? $"NCCL {v / 10000}.{v / 100 % 100}.{v % 100}" : $"NCCL {v / 1000}.{v / 100 % 10}.{v % 100}";
    }
}
