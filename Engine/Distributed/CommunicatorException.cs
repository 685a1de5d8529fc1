namespace Engine.Distributed;

/// <summary>A collective failed, a rank disagrees with the others (weights drifted), or MPI/NCCL is not installed;
/// the message says which call or check and why.</summary>
public sealed class CommunicatorException(string message) : Exception(message);
