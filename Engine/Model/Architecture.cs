using System.Numerics;
using System.Reflection;
using System.Text.Json.Serialization;
using System.Text.Json.Serialization.Metadata;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// What the shared part of a model is — the choice that makes one multi-task architecture differ from another.
/// A model is a shared part (this), then one tower per task (<see cref="ModelSpec.Tower"/>, an MLP of any depth;
/// depth 0 is no tower), then one output layer per task (<c>heads.{task}</c>). The shared part's MLPs (the trunk,
/// each expert, each column) have the widths <see cref="ModelSpec.Trunk"/> and the activations
/// <see cref="ModelSpec.TrunkActivation"/> / <see cref="ModelSpec.TrunkOutputActivation"/>.
/// <para>
/// Each architecture is one file under <c>Engine/Model/Architectures/</c>: a record deriving from this one,
/// marked <see cref="ArchitectureNameAttribute"/> (its name in checkpoints and on the command line), whose
/// <see cref="Build{T}"/> makes its <see cref="SharedPart{T}"/>. Nothing else needs editing: checkpoints
/// (<c>engine.config</c> JSON, <c>"architecture":{"kind":"mmoe",…}</c>) and <c>mtl train --arch</c> find the
/// records by their attribute; each parameter of a record's constructor is a flag of <c>mtl train</c> (its name in
/// kebab case: <c>TaskExperts</c> → <c>--task-experts</c>; its default value, the flag's). A spec without an architecture (<c>null</c>) is a shared bottom.
/// </para>
/// </summary>
public abstract record Architecture
{
    /// <summary>The architecture's name (<see cref="ArchitectureNameAttribute"/>), e.g. <c>mmoe</c>.</summary>
    [JsonIgnore] public string Name => NameOf(GetType());

    /// <summary>
    /// Registers the shared part's parameters in <paramref name="parameters"/> — first every parameter that more than
    /// one task's loss reaches, as one contiguous block — and returns the part; the model then calls
    /// <see cref="SharedPart{T}.RegisterTask"/> for each task in order, before that task's tower and output layer.
    /// </summary>
    public abstract SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) where T : unmanaged, IFloatingPointIeee754<T>;

    /// <summary>Throws, naming the field, unless the architecture can be built for <paramref name="spec"/> (by default:
    /// <see cref="Validate()"/>).</summary>
    public virtual void Validate(ModelSpec spec) => Validate();

    /// <summary>Throws, naming the field (<see cref="ArgumentException.ParamName"/> = the constructor parameter), unless
    /// the architecture's own fields are in range — the checks that need no <see cref="ModelSpec"/>.</summary>
    public virtual void Validate() { }

    /// <summary>Whether the shared part's MLPs (of widths <see cref="ModelSpec.Trunk"/>) are experts — on the command line
    /// <c>--expert-hidden</c> sets their widths instead of <c>--hidden</c>.</summary>
    [JsonIgnore] public virtual bool HasExperts => false;

    /// <summary>The architecture of <paramref name="spec"/> (null means a shared bottom).</summary>
    public static Architecture Of(ModelSpec spec) => spec.Architecture ?? new SharedBottomArchitecture();

    /// <summary>Every architecture in this assembly by name.</summary>
    public static IReadOnlyDictionary<string, Type> Known => s_known.Value;

    private static readonly Lazy<IReadOnlyDictionary<string, Type>> s_known = new(() =>
        typeof(Architecture).Assembly.GetTypes()
            .Where(t => t.IsSubclassOf(typeof(Architecture)) && !t.IsAbstract)
            .ToDictionary(NameOf, t => t, StringComparer.Ordinal));

    private static string NameOf(Type type) => type.GetCustomAttribute<ArchitectureNameAttribute>()?.Name
        ?? throw new InvalidOperationException($"{type.Name} derives from Architecture but has no [ArchitectureName].");

    /// <summary>Lets System.Text.Json write and read an <see cref="Architecture"/> with a <c>"kind"</c> discriminator.</summary>
    internal static void AddPolymorphism(JsonTypeInfo info)
    {
        if (info.Type != typeof(Architecture)) return;
        var options = new JsonPolymorphismOptions { TypeDiscriminatorPropertyName = "kind", UnknownDerivedTypeHandling = JsonUnknownDerivedTypeHandling.FailSerialization };
        foreach (var (name, type) in Known.OrderBy(k => k.Key, StringComparer.Ordinal)) options.DerivedTypes.Add(new JsonDerivedType(type, name));
        info.PolymorphismOptions = options;
    }
}

/// <summary>The name of an <see cref="Architecture"/> in checkpoints (<c>engine.config</c>) and in <c>mtl train --arch</c>.</summary>
[AttributeUsage(AttributeTargets.Class, Inherited = false)]
public sealed class ArchitectureNameAttribute(string name) : Attribute
{
    /// <summary>The name, e.g. <c>mmoe</c>.</summary>
    public string Name { get; } = name;
}
