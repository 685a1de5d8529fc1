using System.Diagnostics;
using System.Text.RegularExpressions;
using ILGPU;
using ILGPU.Backends;
using ILGPU.Backends.EntryPoints;
using ILGPU.Backends.PTX;
using ILGPU.Runtime;
using ILGPU.Runtime.Cuda;

namespace Engine.Kernels.Ilgpu;

/// <summary>The instruction mix of one stretch of SASS (a loop body or a whole kernel). Widths are in bits.</summary>
public sealed record SassMix(int Instructions, int Ffma, int FloatOther, IReadOnlyDictionary<int, int> SharedLoads,
    IReadOnlyDictionary<int, int> GlobalLoads, IReadOnlyDictionary<int, int> GlobalStores, int Branches)
{
    /// <summary>FFMA / all instructions (NOPs excluded).</summary>
    public double FfmaShare => Instructions == 0 ? 0 : (double)Ffma / Instructions;

    /// <summary>"LDS.128×4 LDS.32×2", or "-" when there are none.</summary>
    public static string Widths(string name, IReadOnlyDictionary<int, int> byWidth) =>
        byWidth.Count == 0 ? "-" : string.Join(" ", byWidth.OrderByDescending(p => p.Key).Select(p => $"{name}.{p.Key}×{p.Value}"));
}

/// <summary>What ptxas made of one kernel for sm_90, and its hot loop.</summary>
/// <param name="Kernel">The kernel.</param>
/// <param name="Registers">Registers per thread.</param>
/// <param name="SpillBytes">Spill stores + spill loads, in bytes (0 is the target).</param>
/// <param name="StackBytes">Stack frame bytes (local memory other than spills).</param>
/// <param name="SharedBytes">Static shared memory per group, in bytes.</param>
/// <param name="GroupsPerSm">Groups of <see cref="IlgpuKernel.GroupSize"/> threads resident on one H100/H200 SM.</param>
/// <param name="Occupancy">Resident warps / 64, the theoretical occupancy.</param>
/// <param name="Loop">The hot loop: the innermost loop with the most FFMA (or, without FFMA, the most instructions);
/// the whole kernel when it has no loop.</param>
/// <param name="LoopIsWholeKernel">True when the kernel has no loop.</param>
/// <param name="Sass">The disassembly (cuobjdump -sass).</param>
public sealed record SassKernelReport(IlgpuKernel Kernel, int Registers, int SpillBytes, int StackBytes, int SharedBytes,
    int GroupsPerSm, double Occupancy, SassMix Loop, bool LoopIsWholeKernel, string Sass);

/// <summary>
/// Reads the machine code an H100/H200 would run, without a GPU: ILGPU's own PTX backend compiles a kernel for
/// <c>sm_90</c> with PTX ISA 7.8 (the newest ptxas 11.8 accepts; ILGPU picks a newer ISA on a newer driver, which
/// changes the PTX header, not the kernel; ILGPU 1.5.3 writes <c>.target sm_80</c> into the PTX even for SM_90, and
/// ptxas, like the driver's JIT, turns that into sm_90 code), <c>ptxas -arch=sm_90 -v</c> assembles it and reports registers, spills
/// and shared memory, and <c>cuobjdump -sass</c> disassembles it. The same context settings as the engine's
/// (<see cref="IlgpuBackend"/>: algorithms on, O2, no assertions), so the PTX is the PTX the GPU would JIT.
/// </summary>
public static class IlgpuSass
{
    /// <summary>The H100/H200 (sm_90) limits the occupancy uses (CUDA occupancy calculator, compute capability 9.0).</summary>
    public const int RegistersPerSm = 65536, MaxWarpsPerSm = 64, MaxGroupsPerSm = 32, SharedBytesPerSm = 233472,
        SharedReservedPerGroup = 1024, RegisterAllocationUnit = 256;

    /// <summary>True when ptxas and cuobjdump are on the PATH.</summary>
    public static bool ToolsAvailable => Which("ptxas") is not null && Which("cuobjdump") is not null;

    /// <summary>The PTX of every kernel, compiled for sm_90 / ISA 7.8 (no ptxas needed).</summary>
    public static IEnumerable<(IlgpuKernel Kernel, string Ptx)> CompileAll(IEnumerable<IlgpuKernel> kernels)
    {
        using var context = Context.Create(builder => builder.Default().EnableAlgorithms().Optimize(OptimizationLevel.O2));
        using var backend = new PTXBackend(context, CudaArchitecture.SM_90, CudaInstructionSet.ISA_78, nvvmAPI: null!);
        foreach (var kernel in kernels) yield return (kernel, CompilePtx(backend, kernel));
    }

    private static string CompilePtx(PTXBackend backend, IlgpuKernel kernel)
    {
        var entry = kernel.ExplicitlyGrouped
            ? EntryPointDescription.FromExplicitlyGroupedKernel(kernel.Method)
            : EntryPointDescription.FromImplicitlyGroupedKernel(kernel.Method);
        try
        {
            return ((PTXCompiledKernel)backend.Compile(entry, kernel.Specialization)).PTXAssembly;
        }
        catch (Exception error)
        {
            throw new InvalidOperationException($"ILGPU's PTX backend failed to compile kernel {kernel.Name}: {error.Message}", error);
        }
    }

    /// <summary>Assembles one kernel's PTX with ptxas for sm_90 and reads its SASS. Throws when ptxas rejects it.</summary>
    public static SassKernelReport Assemble(IlgpuKernel kernel, string ptx)
    {
        string dir = Path.Combine(Path.GetTempPath(), $"engine-sass-{Environment.ProcessId}-{Guid.NewGuid():N}");
        Directory.CreateDirectory(dir);
        try
        {
            string ptxFile = Path.Combine(dir, "kernel.ptx"), cubin = Path.Combine(dir, "kernel.cubin");
            File.WriteAllText(ptxFile, ptx);
            var (code, output) = Run("ptxas", $"-arch=sm_90 -v -o \"{cubin}\" \"{ptxFile}\"");
            if (code != 0)
                throw new InvalidOperationException($"ptxas rejected kernel {kernel.Name} (exit {code}):\n{output}");
            var (dumpCode, sass) = Run("cuobjdump", $"-sass \"{cubin}\"");
            if (dumpCode != 0)
                throw new InvalidOperationException($"cuobjdump failed on kernel {kernel.Name} (exit {dumpCode}):\n{sass}");
            int registers = Number(output, @"Used (\d+) registers");
            int spills = Number(output, @"(\d+) bytes spill stores") + Number(output, @"(\d+) bytes spill loads");
            int stack = Number(output, @"(\d+) bytes stack frame");
            int shared = Number(output, @"(\d+) bytes smem");
            int groups = GroupsPerSm(registers, shared, kernel.GroupSize);
            double occupancy = groups * (double)((kernel.GroupSize + 31) / 32) / MaxWarpsPerSm;
            var (loop, whole) = HotLoop(sass);
            return new SassKernelReport(kernel, registers, spills, stack, shared, groups, occupancy, loop, whole, sass);
        }
        finally
        {
            try { Directory.Delete(dir, recursive: true); } catch (IOException) { }
        }
    }

    /// <summary>Groups resident per SM on compute capability 9.0: the least of the warp, register, shared-memory and
    /// group limits. Registers are allocated per warp in units of 256; each group also reserves 1 KB of shared memory.</summary>
    public static int GroupsPerSm(int registersPerThread, int sharedBytesPerGroup, int threadsPerGroup)
    {
        int warps = (threadsPerGroup + 31) / 32;
        int perWarp = (Math.Max(1, registersPerThread) * 32 + RegisterAllocationUnit - 1) / RegisterAllocationUnit * RegisterAllocationUnit;
        int byRegisters = RegistersPerSm / perWarp / warps;
        int byWarps = MaxWarpsPerSm / warps;
        int byShared = SharedBytesPerSm / (sharedBytesPerGroup + SharedReservedPerGroup);
        return Math.Min(Math.Min(byRegisters, byWarps), Math.Min(byShared, MaxGroupsPerSm));
    }

    private static readonly Regex s_line = new(@"/\*([0-9a-f]{4,})\*/\s+(.*?)\s*;", RegexOptions.Compiled);
    private static readonly Regex s_target = new(@"\b(?:BRA|BRX)\b.*?(?:0x([0-9a-f]+)|`\(\.L_x_(\d+)\))", RegexOptions.Compiled);
    private static readonly Regex s_label = new(@"^\s*\.L_x_(\d+):", RegexOptions.Compiled | RegexOptions.Multiline);

    /// <summary>The instructions of a SASS listing as (address, text), without NOPs.</summary>
    public static List<(int Address, string Text)> Instructions(string sass)
    {
        var list = new List<(int, string)>();
        foreach (Match m in s_line.Matches(sass))
        {
            string text = m.Groups[2].Value.Trim();
            if (Mnemonic(text) == "NOP") continue;
            list.Add((Convert.ToInt32(m.Groups[1].Value, 16), text));
        }
        return list;
    }

    /// <summary>The hot loop: among backward branches (a loop's closing jump), the body with the most FFMA, ties to the
    /// innermost (shortest); without FFMA anywhere, the body that moves the most global-memory bits (LDG + STG widths),
    /// ties to the longest. The whole kernel when there is no loop.</summary>
    public static (SassMix Mix, bool WholeKernel) HotLoop(string sass)
    {
        var code = Instructions(sass);
        var labels = new Dictionary<string, int>();
        // cuobjdump prints branch targets as absolute addresses (BRA 0x1a0); nvdisasm as labels. Handle both.
        foreach (Match m in s_label.Matches(sass))
        {
            int after = sass.IndexOf("/*", m.Index, StringComparison.Ordinal);
            if (after < 0) continue;
            var addr = s_line.Match(sass, after);
            if (addr.Success) labels[m.Groups[1].Value] = Convert.ToInt32(addr.Groups[1].Value, 16);
        }
        (int Start, int End)? best = null;
        SassMix? bestMix = null;
        foreach (var (address, text) in code)
        {
            var t = s_target.Match(text);
            if (!t.Success) continue;
            int target = t.Groups[1].Success ? Convert.ToInt32(t.Groups[1].Value, 16)
                : labels.TryGetValue(t.Groups[2].Value, out int l) ? l : int.MaxValue;
            if (target >= address) continue; // forward branch, or the BRA-to-itself after EXIT: not a loop
            var body = code.Where(i => i.Address >= target && i.Address <= address).Select(i => i.Text).ToList();
            // A jump back over an unconditional EXIT is not a loop either: it is the fallback ptxas puts after the end of a
            // kernel for warp shuffles reached by a divergent warp (BRA.DIV jumps there, the shuffles run one by one, and
            // it branches back to the code after them).
            if (body.Any(text => text == "EXIT")) continue;
            var mix = Mix(body);
            if (bestMix is null || Better(mix, address - target, bestMix, best!.Value.End - best.Value.Start))
            {
                best = (target, address);
                bestMix = mix;
            }
        }
        return bestMix is null ? (Mix(code.Select(i => i.Text)), true) : (bestMix, false);
    }

    private static bool Better(SassMix candidate, int length, SassMix current, int currentLength) =>
        candidate.Ffma != current.Ffma ? candidate.Ffma > current.Ffma
        : current.Ffma > 0 ? length < currentLength
        : GlobalBits(candidate) != GlobalBits(current) ? GlobalBits(candidate) > GlobalBits(current)
        : length > currentLength;

    private static int GlobalBits(SassMix mix) =>
        mix.GlobalLoads.Sum(p => p.Key * p.Value) + mix.GlobalStores.Sum(p => p.Key * p.Value);

    /// <summary>Counts the instruction classes the report shows.</summary>
    public static SassMix Mix(IEnumerable<string> instructions)
    {
        int total = 0, ffma = 0, fOther = 0, branches = 0;
        var lds = new SortedDictionary<int, int>();
        var ldg = new SortedDictionary<int, int>();
        var stg = new SortedDictionary<int, int>();
        foreach (string text in instructions)
        {
            string op = Mnemonic(text);
            string baseOp = op.Split('.')[0];
            total++;
            switch (baseOp)
            {
                case "FFMA": ffma++; break;
                case "FADD" or "FMUL" or "FMNMX" or "FSETP" or "FSEL": fOther++; break;
                case "LDS": Add(lds, Width(op)); break;
                case "LDG": Add(ldg, Width(op)); break;
                case "STG": Add(stg, Width(op)); break;
                case "BRA" or "BRX" or "JMP" or "JMX": branches++; break;
            }
        }
        return new SassMix(total, ffma, fOther, lds, ldg, stg, branches);
    }

    private static void Add(SortedDictionary<int, int> counts, int width) => counts[width] = counts.GetValueOrDefault(width) + 1;

    /// <summary>The width in bits of a load/store mnemonic: LDS.128 → 128, LDG.E.64 → 64, LDG.E.U8 → 8, LDS → 32.</summary>
    public static int Width(string mnemonic)
    {
        foreach (string part in mnemonic.Split('.'))
            switch (part)
            {
                case "128": return 128;
                case "64": return 64;
                case "U8" or "S8": return 8;
                case "U16" or "S16": return 16;
            }
        return 32;
    }

    /// <summary>The opcode of an instruction, without its predicate (<c>@P0 LDG.E R2, …</c> → <c>LDG.E</c>).</summary>
    public static string Mnemonic(string instruction)
    {
        var parts = instruction.Split(' ', StringSplitOptions.RemoveEmptyEntries);
        if (parts.Length == 0) return "";
        return parts[0].StartsWith('@') && parts.Length > 1 ? parts[1] : parts[0];
    }

    private static int Number(string text, string pattern)
    {
        var m = Regex.Match(text, pattern);
        return m.Success ? int.Parse(m.Groups[1].Value, System.Globalization.CultureInfo.InvariantCulture) : 0;
    }

    private static (int Code, string Output) Run(string tool, string arguments)
    {
        var info = new ProcessStartInfo(tool, arguments)
        {
            RedirectStandardOutput = true, RedirectStandardError = true, UseShellExecute = false,
        };
        using var process = Process.Start(info) ?? throw new InvalidOperationException($"Could not start {tool}.");
        var stderr = process.StandardError.ReadToEndAsync();
        string stdout = process.StandardOutput.ReadToEnd();
        process.WaitForExit();
        return (process.ExitCode, stdout + stderr.Result);
    }

    private static string? Which(string tool)
    {
        foreach (string dir in (Environment.GetEnvironmentVariable("PATH") ?? "").Split(Path.PathSeparator, StringSplitOptions.RemoveEmptyEntries))
        {
            string path = Path.Combine(dir, tool);
            if (File.Exists(path)) return path;
        }
        return null;
    }
}
