namespace Engine.Kernels.Ilgpu;

/// <summary>A reading of <see cref="IlgpuBackend.Counters"/>: kernel launches (device-side copies included), host
/// synchronisations (waits for the stream: <c>Synchronize</c> and downloads) and uploads.</summary>
/// <param name="Launches">Kernel launches and device-to-device copies enqueued.</param>
/// <param name="HostSyncs">Times the host waited for the device.</param>
/// <param name="Uploads">Host-to-device copies.</param>
public readonly record struct LaunchCounters(long Launches, long HostSyncs, long Uploads)
{
    /// <summary>What happened between <paramref name="before"/> and <paramref name="after"/>.</summary>
    public static LaunchCounters operator -(LaunchCounters after, LaunchCounters before) =>
        new(after.Launches - before.Launches, after.HostSyncs - before.HostSyncs, after.Uploads - before.Uploads);

    /// <inheritdoc/>
    public override string ToString() => $"{Launches} launches, {HostSyncs} host syncs, {Uploads} uploads";
}
