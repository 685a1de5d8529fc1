namespace Engine.Bench.Methods;

/// <summary>The <c>--name value</c> options of the Bench commands in this folder.</summary>
internal static class CommandArgs
{
    /// <summary>The value after <paramref name="name"/>, or <paramref name="fallback"/> when it is not given.</summary>
    public static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        if (i < 0) return fallback;
        if (i + 1 >= args.Length) throw new ArgumentException($"{name} needs a value.");
        return args[i + 1];
    }
}
