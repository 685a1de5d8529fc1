using Engine.Distributed;
using Engine.Kernels;

namespace Engine.Cli;

/// <summary>Opens the communicators of <c>mtl train --distributed</c>; a missing MPI or NCCL is a device problem
/// (exit code 3) with the library's message, not a crash.</summary>
internal static class DistributedRun
{
    public static MpiCommunicator OpenMpi()
    {
        try { return MpiCommunicator.Create(); }
        catch (CommunicatorException e) { throw new DeviceUnavailableException($"--distributed: {e.Message}", e); }
    }

    public static NcclCommunicator OpenNccl(ICommunicator mpi, Backend<float> backend)
    {
        try { return NcclCommunicator.Create(mpi, backend); }
        catch (CommunicatorException e) { throw new DeviceUnavailableException($"--distributed nccl: {e.Message}", e); }
    }
}
