using System.CommandLine;
using Engine.Kernels;
using Spectre.Console;

namespace Engine.Cli.Commands;

/// <summary><c>mtl devices</c>: every device this machine offers, and which one <c>--device auto</c> picks.</summary>
internal static class DevicesCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("devices", "List the devices kernels can run on, and the one --device auto picks.");
        command.SetAction(_ => Run(context));
        return command;
    }

    private static int Run(CliContext context)
    {
        var table = new Table().AddColumns("kind", "name", "memory", "capability", "parallelism");
        foreach (var d in Device.Describe())
            table.AddRow(
                Markup.Escape(d.Kind.ToString()), Markup.Escape(d.Name), $"{d.MemoryBytes / (1024.0 * 1024 * 1024):F1} GiB",
                Markup.Escape(d.ComputeCapability), $"{d.Parallelism} {(d.Kind is BackendKind.Cpu or BackendKind.IlgpuCpu ? "cores" : "SMs")}");
        context.Console.Write(table);
        using (var chosen = Devices.Open("auto")) // ENGINE_DEVICE=cuda without a GPU: exit 3, as train
            context.Console.WriteLine($"--device auto picks: {chosen.Info.Kind} ({chosen.Info.Name})");
        context.Console.WriteLine($"Names for --device: {string.Join(", ", Device.Names)} (ilgpu-cpu: the GPU kernels emulated on the CPU, slow).");
        return ExitCodes.Ok;
    }
}
