using System.CommandLine;
using System.ComponentModel;
using System.Globalization;
using System.Reflection;
using System.Text;
using Engine.Experiments;

namespace Engine.Cli.Commands;

/// <summary>
/// The model-shape flags of <c>mtl train</c>: <c>--arch NAME</c> (every <see cref="Architecture"/> record, by its
/// <see cref="ArchitectureNameAttribute"/>), one flag per constructor parameter of those records (its name in kebab
/// case: <c>TaskExperts</c> → <c>--task-experts</c>, its default value the flag's default), <c>--expert-hidden</c> (the
/// widths of each expert, for an architecture with <see cref="Architecture.HasExperts"/>) and <c>--tower</c>. A new
/// architecture record gets its flags with no edit here. A flag the chosen architecture has no parameter for is a
/// usage error naming it.
/// </summary>
internal sealed class ArchitectureFlags
{
    private readonly Dictionary<string, (Option<string?> Option, Type Type)> _parameters = new(StringComparer.Ordinal);

    public readonly Option<string> Arch;
    public readonly Option<string?> ExpertHidden = new("--expert-hidden")
        { HelpName = "W1,W2,…", Description = "Widths of each expert's layers (mmoe, omoe, cgc, ple, dselect-k; instead of --hidden), e.g. 64,32. Default: --hidden's default." };
    public readonly Option<string?> Tower = new("--tower")
        { HelpName = "W1,W2,…", Description = "Widths of every task's tower, the MLP between the shared part and the task's output layer (default: none)." };

    public ArchitectureFlags()
    {
        var names = Architecture.Known.Keys.Order(StringComparer.Ordinal).ToArray();
        Arch = new Option<string>("--arch")
        {
            Description = "The shared part: shared-bottom (one trunk, --hidden), mmoe and omoe (Ma et al. 2018), cgc and ple (Tang et al. 2020), cross-stitch (Misra et al. 2016), dselect-k (Hazimeh et al. 2021); docs/maths.md §17.",
            HelpName = "NAME",
            DefaultValueFactory = _ => "shared-bottom",
        };
        Arch.AcceptOnlyFromAmong(names);
        foreach (var name in names)
            foreach (var parameter in Constructor(Architecture.Known[name]).GetParameters())
            {
                string flag = Flag(parameter.Name!);
                if (_parameters.TryGetValue(flag, out var known))
                {
                    if (known.Type != parameter.ParameterType)
                        throw new InvalidOperationException($"{flag}: architectures declare it with two types, {known.Type.Name} and {parameter.ParameterType.Name}.");
                    continue;
                }
                // "Number of experts E: mmoe, omoe (default 4); shared experts Eₛ: cgc, ple (default 2)."
                var groups = names.SelectMany(n => Constructor(Architecture.Known[n]).GetParameters().Where(q => Flag(q.Name!) == flag)
                        .Select(q => (Arch: n, Text: Architecture.Known[n].GetProperty(q.Name!)?.GetCustomAttribute<DescriptionAttribute>()?.Description ?? q.Name!,
                            Default: q.HasDefaultValue ? Convert.ToString(q.DefaultValue, CultureInfo.InvariantCulture) : null)))
                    .GroupBy(u => (u.Text, u.Default))
                    .Select(g => $"{g.Key.Text}: --arch {string.Join(", ", g.Select(u => u.Arch))}{(g.Key.Default is { } d ? $" (default {d})" : "")}");
                _parameters[flag] = (new Option<string?>(flag)
                {
                    HelpName = parameter.ParameterType == typeof(int) ? "N" : "X",
                    Description = string.Join("; ", groups) + ".",
                }, parameter.ParameterType);
            }
    }

    /// <summary>Every option, in help order.</summary>
    public IEnumerable<Option> Options => [Arch, .. _parameters.Values.Select(p => p.Option), ExpertHidden, Tower];

    /// <summary>The settings with the architecture, the expert widths and the towers the flags give.</summary>
    public ExperimentSettings Bind(ParseResult p, Option<string> hidden, ExperimentSettings settings)
    {
        string name = p.GetValue(Arch) ?? "shared-bottom";
        if (!Architecture.Known.TryGetValue(name, out var type))
            throw new UsageException($"--arch needs one of: {string.Join(", ", Architecture.Known.Keys.Order(StringComparer.Ordinal))} (got '{name}').");
        var constructor = Constructor(type);
        var own = constructor.GetParameters().ToDictionary(q => Flag(q.Name!), StringComparer.Ordinal);
        foreach (var (flag, (option, _)) in _parameters)
            if (Given(p, option) && !own.ContainsKey(flag))
                throw new UsageException($"{flag} does not apply to --arch {name} ({Applies(flag)}).");
        var arguments = constructor.GetParameters().Select(q =>
        {
            string flag = Flag(q.Name!);
            var option = _parameters[flag].Option;
            if (!Given(p, option))
                return q.HasDefaultValue ? q.DefaultValue : throw new UsageException($"--arch {name} needs {flag}.");
            return Parse(flag, p.GetValue(option), q.ParameterType);
        }).ToArray();
        var architecture = (Architecture)constructor.Invoke(arguments);
        try { architecture.Validate(); }
        catch (ArgumentException e) when (e.ParamName is { } parameter)
        {
            throw new UsageException($"{Flag(parameter)}: {Trim(e.Message)}");
        }

        var widths = settings.Hidden;
        if (Given(p, ExpertHidden))
        {
            if (!architecture.HasExperts) throw new UsageException($"--expert-hidden does not apply to --arch {name} (it has no experts; use --hidden).");
            if (Given(p, hidden)) throw new UsageException($"--hidden does not apply to --arch {name}: its experts' widths are --expert-hidden.");
            widths = TrainFlags.Widths(p.GetValue(ExpertHidden)!, "--expert-hidden");
        }
        else if (architecture.HasExperts && Given(p, hidden))
            throw new UsageException($"--hidden does not apply to --arch {name}: give its experts' widths with --expert-hidden.");
        return settings with
        {
            Architecture = architecture,
            Hidden = widths,
            Tower = Given(p, Tower) ? TrainFlags.Widths(p.GetValue(Tower)!, "--tower") : null,
        };
    }

    /// <summary>The record's primary constructor (the public one with the most parameters).</summary>
    private static ConstructorInfo Constructor(Type type) =>
        type.GetConstructors().Where(c => c.GetParameters().All(q => q.ParameterType != type)).MaxBy(c => c.GetParameters().Length)
        ?? throw new InvalidOperationException($"{type.Name} has no public constructor.");

    /// <summary>TaskExperts → --task-experts.</summary>
    internal static string Flag(string parameter)
    {
        var flag = new StringBuilder("--");
        for (int i = 0; i < parameter.Length; i++)
        {
            if (char.IsUpper(parameter[i]) && i > 0) flag.Append('-');
            flag.Append(char.ToLowerInvariant(parameter[i]));
        }
        return flag.ToString();
    }

    private string Applies(string flag) =>
        "it applies to --arch " + string.Join(", ", Architecture.Known.Where(k => Constructor(k.Value).GetParameters().Any(q => Flag(q.Name!) == flag))
            .Select(k => k.Key).Order(StringComparer.Ordinal));

    private static bool Given(ParseResult p, Option option) => p.GetResult(option) is { Implicit: false };

    private static object Parse(string flag, string? text, Type type)
    {
        if (type == typeof(int))
            return int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int n) ? n
                : throw new UsageException($"{flag}: '{text}' is not a whole number.");
        if (type == typeof(double))
            return double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double x) && double.IsFinite(x) ? x
                : throw new UsageException($"{flag}: '{text}' is not a finite number.");
        throw new InvalidOperationException($"{flag}: architecture parameters of type {type.Name} have no parser.");
    }

    private static string Trim(string message)
    {
        int parameter = message.IndexOf(" (Parameter '", StringComparison.Ordinal);
        return parameter >= 0 ? message[..parameter] : message;
    }
}
