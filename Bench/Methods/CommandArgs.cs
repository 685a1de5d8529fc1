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

    /// <summary>Runs a command; a bad argument or a missing file ends it with one line on stderr, <c>bench: error: …</c>, and
    /// exit code 2 (argument) or 1 (file, data), instead of an unhandled exception and its stack trace.</summary>
    public static int Guarded(Func<int> command)
    {
        try
        {
            return command();
        }
        catch (Exception e) when (e is ArgumentException or FileNotFoundException or DirectoryNotFoundException or FormatException
            or Engine.Experiments.ExperimentSetupException)
        {
            Console.Error.WriteLine($"bench: error: {e.Message.Split('\n')[0]}");
            return e is ArgumentException or FormatException ? 2 : 1;
        }
    }
}
