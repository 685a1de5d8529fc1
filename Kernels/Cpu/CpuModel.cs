namespace Engine.Kernels.Cpu;

/// <summary>The processor's model name, for <see cref="DeviceInfo.Name"/> of the CPU backend.</summary>
internal static class CpuModel
{
    /// <summary>The first <c>model name</c> line of Linux's <c>/proc/cpuinfo</c> (x86 kernels write one; many ARM
    /// kernels do not), or null where there is no such file, it cannot be read, or it names no model.</summary>
    public static string? Read()
    {
        try { return File.Exists("/proc/cpuinfo") ? FromCpuInfo(File.ReadAllText("/proc/cpuinfo")) : null; }
        catch (Exception error) when (error is IOException or UnauthorizedAccessException) { return null; }
    }

    /// <summary>The value of the first <c>model name : …</c> line of <paramref name="cpuinfo"/>, trimmed, with runs of
    /// spaces collapsed; null when there is none or it is empty.</summary>
    public static string? FromCpuInfo(string? cpuinfo)
    {
        if (cpuinfo is null) return null;
        foreach (var line in cpuinfo.Split('\n'))
        {
            int colon = line.IndexOf(':');
            if (colon < 0 || line[..colon].Trim() != "model name") continue;
            string model = string.Join(' ', line[(colon + 1)..].Split(' ', '\t', StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
            return model.Length == 0 ? null : model;
        }
        return null;
    }

    /// <summary>The CPU backend's device name: <c>"{model} ({threads} threads, {simd}, {precision})"</c>, e.g.
    /// "AMD EPYC 7B13 (2 threads, AVX2, float32)", with "CPU" for the model when <paramref name="model"/> is null.</summary>
    public static string DeviceName(string? model, int threads, string simd, string precision) =>
        $"{model ?? "CPU"} ({threads} threads, {simd}, {precision})";
}
