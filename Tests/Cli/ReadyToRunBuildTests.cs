using System.Diagnostics;
using System.Reflection.PortableExecutable;
using System.Runtime.InteropServices;
using Engine.Checkpoints;
using Engine.Tests.Data;
using Engine.Tests.Docs;

namespace Engine.Tests.Cli;

/// <summary>
/// The release build of <c>mtl</c> on linux-x64 is precompiled (Cli/Engine.Cli.csproj, target ReadyToRunBuildOutput:
/// Crossgen2 writes ReadyToRun images over bin/Release/net10.0/), and precompiled code changes when code is compiled,
/// never what it computes: the tiered JIT still recompiles the hot loops, and a run's weights are those of the IL build.
/// </summary>
public sealed class ReadyToRunBuildTests
{
    private static readonly string[] Precompiled = ["mtl", "Engine", "Engine.Plots", "ScottPlot", "SkiaSharp", "Spectre.Console", "System.CommandLine"];

    /// <summary>The release build's folder, or a skip where no ReadyToRun build is made (not linux-x64, or not built).</summary>
    private static string BuildFolder()
    {
        if (!OperatingSystem.IsLinux() || RuntimeInformation.OSArchitecture != System.Runtime.InteropServices.Architecture.X64)
            Assert.Skip("ReadyToRunBuildOutput runs on linux-x64 build machines only (Cli/Engine.Cli.csproj); elsewhere mtl's build is IL.");
        string folder = Path.Combine(Repository.Root, "Cli", "bin", "Release", "net10.0");
        if (!File.Exists(Path.Combine(folder, "mtl.dll")))
            Assert.Skip($"{folder} has no mtl.dll: build the CLI with `dotnet build -c Release` first.");
        return folder;
    }

    /// <summary>ReadyToRun images carry a managed native header (the R2R header); IL-only assemblies do not.</summary>
    private static bool IsReadyToRun(string path)
    {
        using var stream = File.OpenRead(path);
        using var reader = new PEReader(stream);
        return reader.PEHeaders.CorHeader is { ManagedNativeHeaderDirectory.Size: > 0 };
    }

    [Fact]
    public void The_release_build_of_mtl_and_its_plotting_stack_is_precompiled_while_the_packages_it_came_from_are_il()
    {
        string folder = BuildFolder();
        foreach (string name in Precompiled)
            Assert.True(IsReadyToRun(Path.Combine(folder, name + ".dll")), $"{name}.dll in {folder} is not a ReadyToRun image");
        // The same assemblies as this test run loads them (the NuGet packages' and the projects' IL): the check tells them apart.
        foreach (string name in new[] { "ScottPlot", "SkiaSharp", "Engine" })
            Assert.False(IsReadyToRun(Path.Combine(AppContext.BaseDirectory, name + ".dll")), $"{name}.dll beside the tests is a ReadyToRun image");
    }

    [Fact]
    public async Task A_precompiled_mtl_trains_the_weights_and_prints_the_tables_of_the_il_one_in_this_process()
    {
        string folder = BuildFolder();
        using var dir = new TempDirectory();
        string precompiled = Path.Combine(dir.Path, "r2r.safetensors"), il = Path.Combine(dir.Path, "il.safetensors");
        string[] flags = ["train", "--epochs", "40", "--method", "pcgrad", "--seed", "7"];

        var start = new ProcessStartInfo("dotnet") { RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false, WorkingDirectory = dir.Path };
        foreach (string argument in (string[])[Path.Combine(folder, "mtl.dll"), .. flags, "--save", precompiled]) start.ArgumentList.Add(argument);
        start.Environment["NO_COLOR"] = "1";
        using var process = Process.Start(start)!;
        var error = process.StandardError.ReadToEndAsync(TestContext.Current.CancellationToken);
        string output = await process.StandardOutput.ReadToEndAsync(TestContext.Current.CancellationToken);
        await process.WaitForExitAsync(TestContext.Current.CancellationToken);
        Assert.True(process.ExitCode == 0, $"exit {process.ExitCode}: {await error}");

        var inProcess = Mtl.Run([.. flags, "--save", il]);
        Assert.True(inProcess.ExitCode == 0, inProcess.ToString());
        Assert.Equal(inProcess.Output, output);

        var a = SafeTensorsFile.Load(precompiled);
        var b = SafeTensorsFile.Load(il);
        Assert.Equal(b.Names, a.Names);
        Assert.True(a.Count > 0);
        foreach (string name in a.Names)
            Assert.True(a[name].Bytes.SequenceEqual(b[name].Bytes), $"tensor {name} differs between the ReadyToRun and the IL run");
    }
}
