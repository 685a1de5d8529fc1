// Command-line parsing: System.CommandLine (2.0, Microsoft's own parser used by the dotnet CLI) rather than
// Spectre.Console.Cli. Why: its parse step is separate from invocation and returns errors as data, so this file
// decides the exit code (2) and prints them as one line; output and error writers are injectable, so the whole
// CLI runs in-process in tests; it is trimming/AOT-friendly and needs no reflection over settings classes.
// Spectre.Console stays for what it is best at: the progress bar and the tables.
using System.CommandLine;
using Engine.Checkpoints;
using Engine.Cli.Commands;
using Engine.Data;
using Engine.Training;

namespace Engine.Cli;

/// <summary>
/// The <c>mtl</c> command, callable in-process: <see cref="Run"/> parses the arguments, runs the command, and
/// turns every failure into an exit code (<see cref="ExitCodes"/>) and one line on <c>error</c>.
/// </summary>
public static class App
{
    /// <summary>Runs <c>mtl</c> with <paramref name="args"/>.</summary>
    /// <param name="args">The arguments after the program name, e.g. ["train", "--epochs", "10"].</param>
    /// <param name="output">Where results go (tables, predictions when no output file is given, <c>--json</c> reports).</param>
    /// <param name="error">Where progress, status lines, warnings and the one-line error message go.</param>
    /// <param name="interactive">True for a terminal: colours and a live progress bar. False (redirected output,
    /// tests): plain text, a progress line every tenth of training.</param>
    /// <param name="cancellation">Cancels training (Ctrl+C in <c>Program</c>); the exit code is then 130.</param>
    /// <param name="errorInteractive">True when <paramref name="error"/> is a terminal: a live progress bar there;
    /// false: one plain line per epoch. Null: the same as <paramref name="interactive"/>.</param>
    public static int Run(string[] args, TextWriter output, TextWriter error, bool interactive = false, CancellationToken cancellation = default,
        bool? errorInteractive = null)
    {
        var context = new CliContext(output, error, interactive, errorInteractive ?? interactive, cancellation);
        var root = new RootCommand("mtl — train, evaluate and run multi-task models (one shared trunk, one head per task) on CSV files.")
        {
            TrainCommand.Create(context),
            EvaluateCommand.Create(context),
            PredictCommand.Create(context),
            DevicesCommand.Create(context),
            ExportCommand.Create(context),
            MethodsCommand.Create(context),
        };
        var parsed = root.Parse(args);
        if (parsed.Errors.Count > 0)
        {
            var command = parsed.CommandResult.Command;
            var where = command == root ? "mtl" : $"mtl {command.Name}";
            var messages = string.Join(" ", parsed.Errors.Select(Describe));
            return Fail(error, ExitCodes.Usage, $"{messages} (see '{where} --help')");
        }
        try
        {
            return parsed.Invoke(new InvocationConfiguration
            {
                Output = output,
                Error = error,
                EnableDefaultExceptionHandler = false, // failures are mapped to exit codes below
                ProcessTerminationTimeout = null,      // Ctrl+C is Program's: it cancels the token
            });
        }
        catch (Exception e)
        {
            var (code, message) = Classify(e);
            if (Environment.GetEnvironmentVariable("MTL_DEBUG") == "1") error.WriteLine(e);
            return Fail(error, code, message);
        }
    }

    /// <summary>A parse error as one sentence that names its flag (the parser's own messages, e.g. "Argument 'foo' not
    /// recognized. Must be one of: …", do not).</summary>
    private static string Describe(System.CommandLine.Parsing.ParseError e)
    {
        string message = e.Message.TrimEnd('.') + ".";
        var option = e.SymbolResult switch
        {
            System.CommandLine.Parsing.OptionResult o => o.Option,
            System.CommandLine.Parsing.ArgumentResult { Parent: System.CommandLine.Parsing.OptionResult o } => o.Option,
            _ => null,
        };
        return option is null || message.Contains(option.Name, StringComparison.Ordinal) ? message : $"{option.Name}: {message}";
    }

    /// <summary>Which exit code an exception means, and the one line to print for it.</summary>
    internal static (int Code, string Message) Classify(Exception e) => e switch
    {
        OperationCanceledException => (ExitCodes.Cancelled, "cancelled; nothing was saved."),
        // A library check on an option a flag sets (e.g. the schedule's γ): name the flag, as a usage error.
        BadInputException when FlagNames.Describe(e) is { } flag => (ExitCodes.BadInput, flag.Message),
        ArgumentException when FlagNames.Describe(e) is { } flag => (ExitCodes.Usage, flag.Message),
        UsageException => (ExitCodes.Usage, e.Message),
        DeviceUnavailableException => (ExitCodes.DeviceUnavailable, e.Message),
        TrainingDivergedException => (ExitCodes.TrainingFailed,
            $"{e.Message.TrimEnd('.')}. Nothing was saved (an existing --save file is unchanged). Try a lower --lr, --clip 1, or --warmup 100."),
        DataFileException or SafeTensorsFormatException or BadInputException => (ExitCodes.BadInput, e.Message),
        FileNotFoundException f => (ExitCodes.BadInput, f.FileName is { } name && !f.Message.Contains(name) ? $"{name}: no such file." : f.Message),
        DirectoryNotFoundException or UnauthorizedAccessException or IOException => (ExitCodes.BadInput, e.Message),
        AggregateException { InnerExceptions.Count: 1 } a => Classify(a.InnerExceptions[0]),
        // The library refuses a combination it has not built (a method on ordered tasks, a feature on a data-parallel run):
        // the options asked for it, so it is a usage error, not a bug. A platform it cannot run on is not the user's doing.
        NotSupportedException and not PlatformNotSupportedException => (ExitCodes.Usage, $"not supported: {e.Message}"),
        _ => (ExitCodes.InternalError, $"internal error ({e.GetType().Name}): {e.Message} (set MTL_DEBUG=1 for the stack trace)"),
    };

    /// <summary>The longest error line printed.</summary>
    internal const int MaxErrorLength = 2000;

    private static int Fail(TextWriter error, int code, string message)
    {
        // One line, whatever the message holds.
        var line = string.Join(' ', message.Split(['\r', '\n'], StringSplitOptions.RemoveEmptyEntries | StringSplitOptions.TrimEntries));
        // Whatever a message quotes, the line stays readable (values are excerpted where they are quoted; this is the backstop).
        if (line.Length > MaxErrorLength) line = $"{line[..(MaxErrorLength - 40)]}… ({line.Length - MaxErrorLength + 40:N0} more characters)";
        error.WriteLine($"mtl: error: {line}");
        error.Flush();
        return code;
    }
}

/// <summary>The command line names something the data or the model does not have (exit code 1).</summary>
public sealed class BadInputException(string message, Exception? inner = null) : Exception(message, inner);

/// <summary>The device asked for is not on this machine (exit code 3).</summary>
public sealed class DeviceUnavailableException(string message, Exception? inner = null) : Exception(message, inner);
