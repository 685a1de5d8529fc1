using Spectre.Console;

namespace Engine.Cli;

/// <summary>What every command gets: where to write, whether a person is watching, and the cancellation token.</summary>
internal sealed class CliContext(TextWriter output, TextWriter error, bool interactive, CancellationToken cancellation)
{
    public TextWriter Output { get; } = output;
    public TextWriter Error { get; } = error;

    /// <summary>A terminal: colours and a live progress bar. Otherwise plain text only.</summary>
    public bool Interactive { get; } = interactive;

    public CancellationToken Cancellation { get; } = cancellation;

    private IAnsiConsole? _console;

    /// <summary>Spectre.Console over <see cref="Output"/>: ANSI and live rendering only when interactive.</summary>
    public IAnsiConsole Console => _console ??= Create();

    private IAnsiConsole Create()
    {
        var console = AnsiConsole.Create(new AnsiConsoleSettings
        {
            Out = new AnsiConsoleOutput(Output),
            Ansi = Interactive ? AnsiSupport.Detect : AnsiSupport.No,
            ColorSystem = Interactive ? ColorSystemSupport.Detect : ColorSystemSupport.NoColors,
            Interactive = Interactive ? InteractionSupport.Yes : InteractionSupport.No,
        });
        if (!Interactive) console.Profile.Width = 120; // redirected output has no width; tables need one
        return console;
    }
}
