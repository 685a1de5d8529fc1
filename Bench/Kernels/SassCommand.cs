using System.Globalization;
using Engine.Kernels.Ilgpu;

namespace Engine.Bench.Kernels;

/// <summary>
/// <c>dotnet run -c Release --project Bench -- sass [--filter TEXT] [--dump DIR]</c>: every ILGPU kernel of the engine
/// (found by <see cref="IlgpuKernelCatalog"/>) compiled by ILGPU's PTX backend for sm_90 (PTX ISA 7.8), assembled by
/// ptxas when it is on the PATH, one line per kernel: registers, spills, shared memory, groups per H100/H200 SM and
/// theoretical occupancy, and the instruction mix of its hot loop. <c>--dump DIR</c> also writes each kernel's PTX and
/// SASS there. See Bench/README.md, "sass".
/// </summary>
public static class SassCommand
{
    public static int Run(string[] args)
    {
        string? filter = null, dump = null;
        for (int i = 0; i < args.Length; i++)
        {
            switch (args[i])
            {
                case "--filter" when i + 1 < args.Length: filter = args[++i]; break;
                case "--dump" when i + 1 < args.Length: dump = args[++i]; break;
                default:
                    Console.Error.WriteLine($"sass: unknown argument '{args[i]}' (expected --filter TEXT, --dump DIR)");
                    return 2;
            }
        }
        var kernels = IlgpuKernelCatalog.Engine()
            .Where(k => filter is null || k.Name.Contains(filter, StringComparison.OrdinalIgnoreCase)).ToList();
        bool assemble = IlgpuSass.ToolsAvailable;
        Console.WriteLine($"{kernels.Count} ILGPU kernels, PTX for sm_90 (ISA 7.8) by ILGPU's PTX backend" +
            (assemble ? ", assembled by ptxas -arch=sm_90" : "; ptxas/cuobjdump not on PATH: PTX only (see Bench/README.md)"));
        if (dump is not null) Directory.CreateDirectory(dump);
        Console.WriteLine();
        Console.WriteLine(assemble
            ? "| kernel | grp | regs | spill B | stack B | smem B | groups/SM | occ. | hot loop | instr | FFMA | FFMA % | LDS | LDG | STG | BRA |"
            : "| kernel | grp | PTX lines |");
        Console.WriteLine(assemble
            ? "| --- | --- | --: | --: | --: | --: | --: | --: | --- | --: | --: | --: | --- | --- | --- | --: |"
            : "| --- | --- | --: |");
        int failures = 0;
        foreach (var (kernel, ptx) in IlgpuSass.CompileAll(kernels))
        {
            string grouping = kernel.ExplicitlyGrouped ? $"explicit {kernel.GroupSize}" : "implicit";
            string safe = string.Concat(kernel.Name.Select(c => char.IsLetterOrDigit(c) || c == '.' ? c : '_'));
            if (dump is not null) File.WriteAllText(Path.Combine(dump, safe + ".ptx"), ptx);
            if (!assemble)
            {
                Console.WriteLine($"| {kernel.Name} | {grouping} | {ptx.Split('\n').Length} |");
                continue;
            }
            SassKernelReport r;
            try { r = IlgpuSass.Assemble(kernel, ptx); }
            catch (InvalidOperationException error)
            {
                failures++;
                Console.WriteLine($"| {kernel.Name} | {grouping} | FAILED: {error.Message.Split('\n')[0]} |");
                continue;
            }
            if (dump is not null) File.WriteAllText(Path.Combine(dump, safe + ".sass"), r.Sass);
            var l = r.Loop;
            Console.WriteLine(string.Create(CultureInfo.InvariantCulture,
                $"| {kernel.Name} | {grouping} | {r.Registers} | {r.SpillBytes} | {r.StackBytes} | {r.SharedBytes} | {r.GroupsPerSm} | {r.Occupancy:P0} | " +
                $"{(r.LoopIsWholeKernel ? "none (whole kernel)" : "loop")} | {l.Instructions} | {l.Ffma} | {l.FfmaShare:P0} | " +
                $"{SassMix.Widths("LDS", l.SharedLoads)} | {SassMix.Widths("LDG", l.GlobalLoads)} | {SassMix.Widths("STG", l.GlobalStores)} | {l.Branches} |"));
            if (r.SpillBytes > 0) failures++;
        }
        if (failures > 0) Console.WriteLine($"\n{failures} kernel(s) failed to assemble or spill.");
        return failures == 0 ? 0 : 1;
    }
}
