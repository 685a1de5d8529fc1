using System.Diagnostics;
using System.Text.Json;

namespace Engine.Bench.Compare;

/// <summary>One JSON line printed by the peer script.</summary>
public sealed record PeerRecord(string Kind, string Name, string? Variant, double Ms, double? CopyMs, double? Gflop, JsonElement Raw);

/// <summary>
/// Runs a PyTorch peer script (Bench/peers/torch_mtl.py by default, or another script of Bench/peers, copied beside this
/// program) as a subprocess and reads its JSON lines. When python3 or torch is missing, <see cref="Available"/> is false and <see cref="Note"/>
/// says why; the comparison then prints our column only.
/// </summary>
public sealed class TorchPeer(string python, int threads, string script = "torch_mtl.py")
{
    /// <summary>The peer script beside the program.</summary>
    public string ScriptPath => Path.Combine(AppContext.BaseDirectory, "peers", script);

    /// <summary>False once a run showed the peer cannot run here.</summary>
    public bool Available { get; private set; } = true;

    /// <summary>Why the peer is unavailable, or its version line ("torch 1.13.0, 2 threads, BLAS …").</summary>
    public string Note { get; private set; } = "";

    /// <summary>Runs the script with <paramref name="arguments"/> (after --threads); returns its records (empty on failure).</summary>
    public IReadOnlyList<PeerRecord> Run(params string[] arguments)
    {
        if (!Available) return [];
        if (!File.Exists(ScriptPath)) return Fail($"peer script not found at {ScriptPath}");
        var start = new ProcessStartInfo(python) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        start.ArgumentList.Add(ScriptPath);
        start.ArgumentList.Add("--threads");
        start.ArgumentList.Add(threads.ToString());
        foreach (var a in arguments) start.ArgumentList.Add(a);
        start.Environment["OMP_NUM_THREADS"] = threads.ToString();
        start.Environment["OPENBLAS_NUM_THREADS"] = threads.ToString(); // the BLAS behind Debian's torch keeps its own pool
        start.Environment["MKL_NUM_THREADS"] = threads.ToString();
        Process process;
        try { process = Process.Start(start) ?? throw new InvalidOperationException("Process.Start returned null"); }
        catch (Exception e) { return Fail($"cannot start '{python}': {e.Message}"); }
        using (process)
        {
            var stderr = process.StandardError.ReadToEndAsync();
            var records = new List<PeerRecord>();
            while (process.StandardOutput.ReadLine() is { } line)
            {
                if (!line.StartsWith('{')) continue;
                using var document = JsonDocument.Parse(line);
                var root = document.RootElement.Clone();
                string kind = root.GetProperty("kind").GetString() ?? "";
                if (kind == "meta")
                {
                    Note = $"PyTorch {root.GetProperty("torch").GetString()}, {root.GetProperty("threads").GetInt32()} threads" +
                        (root.TryGetProperty("blas", out var blas) ? $", {blas.GetString()}" : "") +
                        (root.TryGetProperty("gpu", out var gpu) ? $", {gpu.GetString()}" : "");
                    continue;
                }
                records.Add(new PeerRecord(kind, root.GetProperty("name").GetString() ?? "",
                    root.TryGetProperty("variant", out var v) ? v.GetString() : null,
                    root.GetProperty("ms").GetDouble(),
                    root.TryGetProperty("copy_ms", out var c) ? c.GetDouble() : null,
                    root.TryGetProperty("gflop", out var g) ? g.GetDouble() : null, root));
            }
            process.WaitForExit();
            if (process.ExitCode != 0)
            {
                string error = stderr.Result.Trim();
                string last = error.Split('\n').LastOrDefault()?.Trim() ?? "";
                return Fail($"'{python} {script}' exited with {process.ExitCode}: {last}");
            }
            return records;
        }
    }

    private IReadOnlyList<PeerRecord> Fail(string why)
    {
        Available = false;
        Note = why;
        return [];
    }
}
