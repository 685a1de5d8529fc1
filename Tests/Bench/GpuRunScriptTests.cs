using System.Diagnostics;
using System.Text.RegularExpressions;
using Engine.Tests.Docs;

namespace Engine.Tests.Bench;

/// <summary>
/// Bench/gpu-run.sh, the one prepared device call, must not break before a GPU is lent. Always (well under a second):
/// it is valid bash, every device part has a dry-run twin, and the device parts' budgets fit the device tool's 600 s
/// limit with 40 s to spare. The dry run itself (every part on the CPU at tiny sizes: 2 minutes on an idle 2-core box, 5 on a loaded
/// box, most of it ILGPU's CPU accelerator compiling the step's kernels for the launch count, plus six Python/torch
/// starts) is too slow for every CI run, so it runs only with ENGINE_GPU_DRY_RUN=1 — before packing for a device call
/// (docs/gpu.md §3).
/// </summary>
public partial class GpuRunScriptTests
{
    private static string Script => Path.Combine(Repository.Root, "Bench", "gpu-run.sh");

    /// <summary>The device tool's limit on one command, less the margin left for unpacking, the tarball and exit.</summary>
    private const int DeviceBudgetSeconds = 600 - 40;

    [Fact]
    public void The_script_is_valid_bash_and_its_device_parts_fit_one_call()
    {
        var syntax = Run("bash", ["-n", Script], [], 30);
        Assert.True(syntax.Code == 0, $"bash -n {Script}: {syntax.Output}");
        var (dry, device, common) = Parts(File.ReadAllLines(Script));
        Assert.Equal(["tests", "gemm", "adam", "gram", "steps", "launches"], device.Select(p => p.Name));
        Assert.Equal(device.Select(p => p.Name), dry.Select(p => p.Name));
        Assert.Equal(["unpack", "machine"], common.Select(p => p.Name));
        int total = device.Concat(common).Sum(p => p.Seconds);
        Assert.True(total <= DeviceBudgetSeconds, $"device parts' budgets add up to {total} s > {DeviceBudgetSeconds} s");
    }

    [Fact]
    public void The_parser_reads_parts_of_both_branches()
    {
        string[] lines = ["part unpack 40 x", "if [ \"$dry\" = 1 ]; then", "  part a 5 y", "else", "  part a 7 z", "  part b 9 w", "fi", "part machine 20 v"];
        var (dry, device, common) = Parts(lines);
        Assert.Equal([("a", 5)], dry.Select(p => (p.Name, p.Seconds)));
        Assert.Equal([("a", 7), ("b", 9)], device.Select(p => (p.Name, p.Seconds)));
        Assert.Equal([("unpack", 40), ("machine", 20)], common.Select(p => (p.Name, p.Seconds)));
    }

    [Fact]
    public void The_dry_run_passes_every_part()
    {
        if (Environment.GetEnvironmentVariable("ENGINE_GPU_DRY_RUN") != "1")
            Assert.Skip("The dry run of Bench/gpu-run.sh takes about 2 minutes on 2 cores: set ENGINE_GPU_DRY_RUN=1 to run it (docs/gpu.md §3).");
        var output = Directory.CreateTempSubdirectory("gpu-dry-run").FullName;
        try
        {
            var result = Run("bash", [Script], new() { ["DRY_RUN"] = "1", ["OUT"] = output }, 900);
            string summary = File.ReadAllText(Path.Combine(output, "summary.md"));
            Assert.True(result.Code == 0, $"exit {result.Code}:\n{result.Output}\n{summary}");
            foreach (var part in new[] { "machine", "tests", "gemm", "adam", "gram", "steps", "launches" })
                Assert.Contains($"## {part}: ok", summary);
            Assert.Contains("| 64^3 NN | 64 | 64 | 64 |", summary);
            Assert.Contains("| small | pcgrad |", summary);
            Assert.Contains("gpu-run: 0 part(s) failed", summary);
            var files = Directory.GetFiles(output);
            Assert.True(files.Length <= 8, $"{files.Length} files under $OUT; the device tool brings back 8");
            Assert.Contains(Path.Combine(output, "logs.tar.gz"), files);
        }
        finally { Directory.Delete(output, recursive: true); }
    }

    private sealed record Part(string Name, int Seconds);

    /// <summary>`part NAME SECONDS …` lines: inside the dry-run branch, inside the device branch, and outside both.</summary>
    private static (List<Part> Dry, List<Part> Device, List<Part> Common) Parts(IEnumerable<string> lines)
    {
        List<Part> dry = [], device = [], common = [];
        var current = common;
        foreach (var raw in lines)
        {
            var line = raw.Trim();
            if (line.StartsWith("if [ \"$dry\" = 1 ]; then", StringComparison.Ordinal)) current = dry;
            else if (current == dry && line == "else") current = device;
            else if (current != common && line == "fi") current = common;
            else if (PartLine().Match(line) is { Success: true } m)
                current.Add(new Part(m.Groups[1].Value, int.Parse(m.Groups[2].Value, System.Globalization.CultureInfo.InvariantCulture)));
        }
        return (dry, device, common);
    }

    private static (int Code, string Output) Run(string file, string[] arguments, Dictionary<string, string> environment, int timeoutSeconds)
    {
        var start = new ProcessStartInfo(file) { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false };
        foreach (var a in arguments) start.ArgumentList.Add(a);
        foreach (var (k, v) in environment) start.Environment[k] = v;
        using var process = Process.Start(start)!;
        var stderr = process.StandardError.ReadToEndAsync();
        var stdout = process.StandardOutput.ReadToEndAsync();
        if (!process.WaitForExit(TimeSpan.FromSeconds(timeoutSeconds))) { process.Kill(entireProcessTree: true); return (-1, "timed out"); }
        return (process.ExitCode, stdout.Result + stderr.Result);
    }

    [GeneratedRegex(@"^part ([a-z]+) (\d+) ")] private static partial Regex PartLine();
}
