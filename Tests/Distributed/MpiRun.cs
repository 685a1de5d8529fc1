using System.Diagnostics;
using System.Text;

namespace Engine.Tests.Distributed;

/// <summary>
/// Starts <c>mpirun -np N dotnet PROGRAM.dll ARGS</c> and waits for it, with a hard time limit (a hang fails the test
/// instead of blocking the suite). As root it passes --allow-run-as-root; --oversubscribe lets 2 ranks share fewer cores.
/// The tests skip, with the reason, only when mpirun is absent (.ci/run installs Open MPI).
/// </summary>
internal static class MpiRun
{
    public sealed record Result(int ExitCode, string Output, string Error, bool TimedOut)
    {
        public override string ToString() => $"exit {ExitCode}{(TimedOut ? " (timed out)" : "")}\nstdout:\n{Output}\nstderr:\n{Error}";
    }

    /// <summary>The mpirun on PATH, or null.</summary>
    public static string? Mpirun { get; } = FindOnPath("mpirun");

    public static void SkipUnlessAvailable()
    {
        if (Mpirun is null) Assert.Skip("mpirun is not on PATH: install Open MPI (apt-get install openmpi-bin libopenmpi-dev; .ci/run does it).");
    }

    /// <summary>The worker program the tests start (built beside the test executable).</summary>
    public static string Worker => Path.Combine(AppContext.BaseDirectory, "Engine.DistributedWorker.dll");

    /// <summary>The mtl CLI (built beside the test executable).</summary>
    public static string Mtl => Path.Combine(AppContext.BaseDirectory, "mtl.dll");

    public static Result Run(int ranks, string program, IEnumerable<string> arguments, int timeoutSeconds = 120)
    {
        SkipUnlessAvailable();
        var start = new ProcessStartInfo(Mpirun!)
        {
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        if (Environment.IsPrivilegedProcess) start.ArgumentList.Add("--allow-run-as-root");
        foreach (var a in new[] { "--oversubscribe", "-np", ranks.ToString(), "dotnet", program }) start.ArgumentList.Add(a);
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["DOTNET_CLI_TELEMETRY_OPTOUT"] = "1";
        start.Environment["OMPI_MCA_btl"] = "self,vader";      // one machine: shared memory only (no network probing)
        using var process = Process.Start(start)!;
        var output = new StringBuilder();
        var error = new StringBuilder();
        process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (output) output.AppendLine(e.Data); };
        process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (error) error.AppendLine(e.Data); };
        process.BeginOutputReadLine();
        process.BeginErrorReadLine();
        bool exited = process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds));
        if (!exited) process.Kill(entireProcessTree: true);
        process.WaitForExit();
        lock (output) lock (error)
            return new Result(exited ? process.ExitCode : -1, output.ToString(), error.ToString(), !exited);
    }

    private static string? FindOnPath(string name)
    {
        foreach (var directory in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            var path = Path.Combine(directory, name);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
