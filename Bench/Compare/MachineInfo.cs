using System.Diagnostics;
using System.Runtime.InteropServices;
using Engine.Kernels;

namespace Engine.Bench.Compare;

/// <summary>What the numbers were measured on (printed at the top of every report).</summary>
public static class MachineInfo
{
    public static IEnumerable<string> Describe(Backend backend)
    {
        yield return $"- date: {DateTime.UtcNow:yyyy-MM-dd HH:mm} UTC";
        yield return $"- CPU: {Lscpu("Model name") ?? "unknown"}; {Environment.ProcessorCount} logical CPUs" +
                     $" ({Lscpu("Core(s) per socket") ?? "?"} cores/socket, {Lscpu("Thread(s) per core") ?? "?"} threads/core); " +
                     $"L2 {Lscpu("L2 cache") ?? "?"}, L3 {Lscpu("L3 cache") ?? "?"}; hypervisor {Lscpu("Hypervisor vendor") ?? "none"}";
        yield return $"- ours: {backend.Info.Name}; {RuntimeInformation.FrameworkDescription}, {RuntimeInformation.OSDescription}";
    }

    /// <summary>The machine's load average (Linux), so that a noisy measurement says so.</summary>
    public static string LoadAverage() =>
        File.Exists("/proc/loadavg") ? $"{File.ReadAllText("/proc/loadavg").Trim()} ({Environment.ProcessorCount} cores)" : "n/a";

    private static Dictionary<string, string>? s_lscpu;

    private static string? Lscpu(string key)
    {
        if (s_lscpu is null)
        {
            s_lscpu = new Dictionary<string, string>(StringComparer.Ordinal);
            try
            {
                using var process = Process.Start(new ProcessStartInfo("lscpu") { RedirectStandardOutput = true, UseShellExecute = false });
                if (process is not null)
                {
                    while (process.StandardOutput.ReadLine() is { } line)
                    {
                        int colon = line.IndexOf(':');
                        if (colon > 0) s_lscpu.TryAdd(line[..colon].Trim(), line[(colon + 1)..].Trim());
                    }
                    process.WaitForExit();
                }
            }
            catch (System.ComponentModel.Win32Exception) { /* no lscpu: leave the fields unknown */ }
        }
        return s_lscpu.TryGetValue(key, out var value) ? value : null;
    }
}
