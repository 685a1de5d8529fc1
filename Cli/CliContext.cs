using Spectre.Console;

namespace Engine.Cli;

/// <summary>
/// What every command gets: where to write, whether a person is watching each stream, and the cancellation token.
/// Results (tables, predictions, <c>--json</c> reports) go to <see cref="Output"/> (stdout); progress, status lines
/// and warnings go to <see cref="Error"/> (stderr), so <c>mtl train --json | jq</c> and <c>mtl predict &gt; out.csv</c>
/// get only the results.
/// </summary>
internal sealed class CliContext(TextWriter output, TextWriter error, bool interactive, bool errorInteractive, CancellationToken cancellation)
{
    /// <summary>Results: stdout.</summary>
    public TextWriter Output { get; } = output;

    /// <summary>Progress, status, warnings and the one error line: stderr.</summary>
    public TextWriter Error { get; } = error;

    /// <summary>stdout is a terminal: tables in colour. Otherwise plain text only.</summary>
    public bool Interactive { get; } = interactive;

    /// <summary>stderr is a terminal: a live progress bar. Otherwise one plain line per epoch.</summary>
    public bool ErrorInteractive { get; } = errorInteractive;

    public CancellationToken Cancellation { get; } = cancellation;

    private IAnsiConsole? _console, _errorConsole;

    /// <summary>Spectre.Console over <see cref="Output"/>, for the result tables.</summary>
    public IAnsiConsole Console => _console ??= Create(Output, Interactive);

    /// <summary>Spectre.Console over <see cref="Error"/>, for the live progress bar.</summary>
    public IAnsiConsole ErrorConsole => _errorConsole ??= Create(Error, ErrorInteractive);

    /// <summary>A status line (what was loaded, the device, what was saved) on stderr.</summary>
    public void Status(string line)
    {
        Error.WriteLine(line);
        Error.Flush();
    }

    private static IAnsiConsole Create(TextWriter writer, bool interactive)
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(writer),
            Ansi = interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!interactive) console.Profile.Width = 120; // redirected output has no width; tables need one
        return console;
    }
}
