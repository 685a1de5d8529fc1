using System.Globalization;

namespace Engine.Optimizers;

/// <summary>
/// A method's option values, parsed and range-checked against its <see cref="MethodDescriptor.Options"/> once, at
/// construction; the typed getters then return the given value or the default. Bad input throws
/// <see cref="ArgumentException"/> naming the method, the option and the allowed values.
/// </summary>
public sealed class MethodArguments
{
    private readonly Dictionary<string, string> _values;
    private readonly IReadOnlyList<string> _tasks;

    private MethodArguments(MethodDescriptor method, Dictionary<string, string> values, IReadOnlyList<string> tasks)
    {
        Method = method;
        _values = values;
        _tasks = tasks;
    }

    /// <summary>The method these are options of.</summary>
    public MethodDescriptor Method { get; }

    /// <summary>The values given explicitly (key → text).</summary>
    public IReadOnlyDictionary<string, string> Given => _values;

    /// <summary>Parses <paramref name="values"/> (key → text) for <paramref name="method"/>; every key must be one of its
    /// options and every value of the option's type and range.</summary>
    public static MethodArguments Parse(MethodDescriptor method, IReadOnlyDictionary<string, string> values, IReadOnlyList<string> taskNames)
    {
        ArgumentNullException.ThrowIfNull(method);
        ArgumentNullException.ThrowIfNull(values);
        var parsed = new Dictionary<string, string>(StringComparer.Ordinal);
        var arguments = new MethodArguments(method, parsed, taskNames);
        foreach (var (key, text) in values)
        {
            var option = method.Option(key) ?? throw new ArgumentException(
                $"Method '{method.Name}' has no option '{key}' (its options: {(method.Options.Count == 0 ? "none" : string.Join(", ", method.Options.Select(o => o.Name)))}).",
                nameof(values));
            arguments.Check(option, text);
            parsed[key] = text;
        }
        foreach (var option in method.Options) arguments.Check(option, option.Default); // a bad default is a bug of the method
        return arguments;
    }

    /// <summary>A real option.</summary>
    public double Real(string name) => ParseReal(Option(name, MethodOptionKind.Real), Text(name));

    /// <summary>An integer option.</summary>
    public int Integer(string name) => ParseInteger(Option(name, MethodOptionKind.Integer), Text(name));

    /// <summary>A choice option (one of its <see cref="MethodOption.Choices"/>).</summary>
    public string Choice(string name) => Text(Option(name, MethodOptionKind.Choice).Name);

    /// <summary>A task option, as the task's index.</summary>
    public int Task(string name) => ParseTask(Option(name, MethodOptionKind.Task), Text(name));

    private string Text(string name) => _values.TryGetValue(name, out var v) ? v : Method.Option(name)!.Default;

    private MethodOption Option(string name, MethodOptionKind kind)
    {
        var o = Method.Option(name) ?? throw new InvalidOperationException($"Method '{Method.Name}' reads an option '{name}' it does not declare.");
        return o.Kind == kind ? o : throw new InvalidOperationException($"Method '{Method.Name}' reads option '{name}' as {kind}, but it is {o.Kind}.");
    }

    private void Check(MethodOption o, string text)
    {
        switch (o.Kind)
        {
            case MethodOptionKind.Real: ParseReal(o, text); break;
            case MethodOptionKind.Integer: ParseInteger(o, text); break;
            case MethodOptionKind.Choice:
                if (!o.Choices.Contains(text)) throw Bad(o, text);
                break;
            case MethodOptionKind.Task: ParseTask(o, text); break;
        }
    }

    private double ParseReal(MethodOption o, string text)
    {
        if (!double.TryParse(text, NumberStyles.Float, CultureInfo.InvariantCulture, out double v) || !double.IsFinite(v)
            || v < o.Min || v > o.Max || (o.MinExclusive && v == o.Min))
            throw Bad(o, text);
        return v;
    }

    private int ParseInteger(MethodOption o, string text)
    {
        if (!int.TryParse(text, NumberStyles.AllowLeadingSign, CultureInfo.InvariantCulture, out int v) || v < o.Min || v > o.Max)
            throw Bad(o, text);
        return v;
    }

    private int ParseTask(MethodOption o, string text)
    {
        for (int i = 0; i < _tasks.Count; i++)
            if (_tasks[i] == text) return i;
        if (int.TryParse(text, NumberStyles.None, CultureInfo.InvariantCulture, out int index) && index < _tasks.Count) return index;
        throw new ArgumentException(
            $"Method '{Method.Name}', option '{o.Name}': '{text}' is not a task (the tasks: {string.Join(", ", _tasks)}, or an index below {_tasks.Count}).", o.Name);
    }

    private ArgumentException Bad(MethodOption o, string text) =>
        new($"Method '{Method.Name}', option '{o.Name}': '{text}' is not allowed (expected {o.Domain}).", o.Name);
}
