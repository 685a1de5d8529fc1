using Engine.Kernels;

namespace Engine.Cli;

/// <summary>Opens the device a command asked for; a GPU that is not there is exit code 3, not a crash.</summary>
internal static class Devices
{
    public static Backend<float> Open(string name)
    {
        try { return Device.Create(name); }
        catch (InvalidOperationException e) { throw new DeviceUnavailableException(e.Message, e); }
        catch (ArgumentException e) { throw new UsageException(e.Message); }
    }
}
