using System.Reflection;
using System.Reflection.Emit;
using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>One ILGPU kernel of the engine: the method ILGPU compiles, and how it is grouped.</summary>
/// <param name="Method">The kernel method (a closed generic method when the kernel is generic).</param>
/// <param name="ExplicitlyGrouped">True for kernels loaded with an explicit group size (no index parameter:
/// they read <c>Grid</c>/<c>Group</c> and may use shared memory and barriers); false for implicitly grouped
/// kernels (first parameter an <c>Index1D/2D/3D</c>).</param>
public sealed record IlgpuKernel(MethodInfo Method, bool ExplicitlyGrouped)
{
    /// <summary>A readable name: <c>Type.Method&lt;TypeArgs&gt;</c>.</summary>
    public string Name
    {
        get
        {
            string name = $"{Method.DeclaringType!.Name}.{Method.Name}";
            if (Method.IsGenericMethod)
                name += "<" + string.Join(",", Method.GetGenericArguments().Select(t => t.Name)) + ">";
            return name;
        }
    }

    /// <summary>The threads per group the engine launches it with: <see cref="LaunchGroupSizeAttribute"/> where the
    /// kernel states one, else 256 (what every explicitly grouped kernel of the engine uses on a GPU; ILGPU picks the
    /// group size of implicitly grouped kernels itself, and the report assumes 256 for them too).</summary>
    public int GroupSize => Method.GetCustomAttribute<LaunchGroupSizeAttribute>()?.Threads ?? 256;

    /// <summary>The specialization the engine loads it with (<c>.maxntid</c>/<c>.minnctapersm</c> in PTX), from
    /// <see cref="LaunchGroupSizeAttribute"/>; empty without one.</summary>
    public KernelSpecialization Specialization => Method.GetCustomAttribute<LaunchGroupSizeAttribute>() is { } launch
        ? launch.Specialization
        : KernelSpecialization.Empty;
}

/// <summary>States the threads per group a kernel is launched with, for the SASS report's occupancy (only needed where
/// it is not 256), and optionally the groups per SM it is compiled for: with <see cref="MinGroupsPerSm"/> the kernel
/// must be loaded with <see cref="Specialization"/>, which makes ptxas (and the driver's JIT) keep registers low
/// enough for that many groups (<c>.maxntid</c>, <c>.minnctapersm</c>).</summary>
[AttributeUsage(AttributeTargets.Method)]
public sealed class LaunchGroupSizeAttribute(int threads) : Attribute
{
    public int Threads { get; } = threads;

    /// <summary>Groups that must fit on one SM (0: no bound).</summary>
    public int MinGroupsPerSm { get; init; }

    /// <summary>The ILGPU specialization to load the kernel with.</summary>
    public KernelSpecialization Specialization =>
        MinGroupsPerSm > 0 ? new KernelSpecialization(Threads, MinGroupsPerSm) : new KernelSpecialization(Threads, null);
}

/// <summary>
/// Every ILGPU kernel of the engine, found without a list to keep up to date: a kernel reaches ILGPU only as a
/// delegate (<c>Accelerator.LoadKernel(SomeKernel)</c>, <c>LoadAutoGroupedKernel</c>, <c>LoadStreamKernel</c>), and
/// a C# method group becomes a delegate through the IL instruction <c>ldftn</c>. So the catalog walks the IL of every
/// method of the given assemblies, collects the static <c>void</c> methods whose address is taken and which take an
/// <c>ArrayView</c>, and classifies each by its first parameter. A kernel that is generic over struct "policy" types
/// (e.g. the SGEMM's transposes and epilogue) is taken at an open generic <c>ldftn</c> and expanded into every
/// instantiation by the value types of the same assemblies that satisfy its constraints.
/// A kernel added by anyone, anywhere in these assemblies, is therefore in the SASS report and its test.
/// </summary>
public static class IlgpuKernelCatalog
{
    private const BindingFlags All = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Static |
                                     BindingFlags.Instance | BindingFlags.DeclaredOnly;

    /// <summary>The kernels of the engine's kernel assembly (where every ILGPU kernel lives), sorted by name.</summary>
    public static IReadOnlyList<IlgpuKernel> Engine() => Find(typeof(IlgpuBackend).Assembly);

    /// <summary>The kernels whose delegates the given assemblies create, sorted by name.</summary>
    public static IReadOnlyList<IlgpuKernel> Find(params Assembly[] assemblies)
    {
        var found = new Dictionary<MethodInfo, IlgpuKernel>();
        var valueTypes = assemblies.SelectMany(LoadableTypes).Where(t => t.IsValueType && !t.IsGenericTypeDefinition).ToArray();
        foreach (var type in assemblies.SelectMany(LoadableTypes))
            foreach (var method in type.GetMethods(All).Cast<MethodBase>().Concat(type.GetConstructors(All)))
                foreach (var target in FunctionPointersTaken(method))
                {
                    if (!IsKernel(target)) continue;
                    foreach (var closed in Instantiations(target, valueTypes))
                        found.TryAdd(closed, new IlgpuKernel(closed, !IsIndex(closed.GetParameters()[0].ParameterType)));
                }
        return [.. found.Values.OrderBy(k => k.Name, StringComparer.Ordinal)];
    }

    private static IEnumerable<Type> LoadableTypes(Assembly assembly)
    {
        try { return assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { return e.Types.Where(t => t is not null)!; }
    }

    private static bool IsKernel(MethodInfo method) =>
        method.IsStatic && method.ReturnType == typeof(void) && method.GetParameters().Length > 0 &&
        method.GetParameters().Any(p => IsView(p.ParameterType));

    private static bool IsView(Type type) =>
        type.IsValueType && type.Namespace is "ILGPU" or "ILGPU.Runtime" && type.Name.StartsWith("ArrayView", StringComparison.Ordinal) ||
        type.IsValueType && !type.IsPrimitive && type.Namespace?.StartsWith("Engine", StringComparison.Ordinal) == true &&
        type.GetFields(BindingFlags.Instance | BindingFlags.Public | BindingFlags.NonPublic).Any(f => IsView(f.FieldType));

    private static bool IsIndex(Type type) =>
        type == typeof(Index1D) || type == typeof(Index2D) || type == typeof(Index3D) ||
        type == typeof(LongIndex1D) || type == typeof(LongIndex2D) || type == typeof(LongIndex3D);

    /// <summary>A closed method as is; an open generic one closed over every combination of value types that meet
    /// each type parameter's constraints.</summary>
    private static IEnumerable<MethodInfo> Instantiations(MethodInfo method, Type[] valueTypes)
    {
        if (!method.ContainsGenericParameters) { yield return method; yield break; }
        if (method.DeclaringType!.ContainsGenericParameters) yield break; // generic classes hold no kernels here
        var definition = method.GetGenericMethodDefinition();
        var choices = definition.GetGenericArguments()
            .Select(p => valueTypes.Where(t => Satisfies(t, p)).ToArray()).ToArray();
        foreach (var combination in Cartesian(choices))
            yield return definition.MakeGenericMethod(combination);
    }

    private static bool Satisfies(Type candidate, Type parameter) =>
        parameter.GetGenericParameterConstraints().All(c => c == typeof(ValueType) || c.IsAssignableFrom(candidate)) &&
        parameter.GetGenericParameterConstraints().Any(c => c.IsInterface);

    private static IEnumerable<Type[]> Cartesian(Type[][] choices)
    {
        IEnumerable<Type[]> result = [[]];
        foreach (var options in choices)
            result = result.SelectMany(prefix => options.Select(o => (Type[])[.. prefix, o]));
        return result;
    }

    /// <summary>The methods whose address <paramref name="method"/> takes with <c>ldftn</c>.</summary>
    private static IEnumerable<MethodInfo> FunctionPointersTaken(MethodBase method)
    {
        byte[]? il;
        try { il = method.GetMethodBody()?.GetILAsByteArray(); }
        catch (Exception) { yield break; }
        if (il is null) yield break;
        var typeArgs = method.DeclaringType is { IsGenericType: true } t ? t.GetGenericArguments() : null;
        var methodArgs = method.IsGenericMethod ? method.GetGenericArguments() : null;
        for (int pc = 0; pc < il.Length;)
        {
            OpCode op;
            if (il[pc] == 0xFE) { op = s_twoByte[il[pc + 1]]; pc += 2; }
            else op = s_oneByte[il[pc++]];
            if (op == OpCodes.Ldftn)
            {
                MethodBase? target = null;
                try { target = method.Module.ResolveMethod(BitConverter.ToInt32(il, pc), typeArgs, methodArgs); }
                catch (Exception) { }
                if (target is MethodInfo info) yield return info;
            }
            pc += OperandSize(op, il, pc);
        }
    }

    private static int OperandSize(OpCode op, byte[] il, int pc) => op.OperandType switch
    {
        OperandType.InlineNone => 0,
        OperandType.ShortInlineBrTarget or OperandType.ShortInlineI or OperandType.ShortInlineVar => 1,
        OperandType.InlineVar => 2,
        OperandType.InlineI8 or OperandType.InlineR => 8,
        OperandType.InlineSwitch => 4 + 4 * BitConverter.ToInt32(il, pc),
        _ => 4,
    };

    private static readonly OpCode[] s_oneByte = new OpCode[256], s_twoByte = new OpCode[256];

    static IlgpuKernelCatalog()
    {
        foreach (var field in typeof(OpCodes).GetFields(BindingFlags.Public | BindingFlags.Static))
        {
            var op = (OpCode)field.GetValue(null)!;
            ushort value = unchecked((ushort)op.Value);
            if (op.Size == 1) s_oneByte[value] = op;
            else s_twoByte[value & 0xFF] = op;
        }
    }
}
