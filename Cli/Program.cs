using Engine.Cli;

// Ctrl+C asks training to stop: the first press cancels the token (the run ends cleanly with exit code 130),
// a second press ends the process the usual way.
using var cancellation = new CancellationTokenSource();
Console.CancelKeyPress += (_, e) =>
{
    if (cancellation.IsCancellationRequested) return;
    e.Cancel = true;
    cancellation.Cancel();
};
bool colour = Environment.GetEnvironmentVariable("NO_COLOR") is null;
bool interactive = !Console.IsOutputRedirected && colour;     // tables in colour on a terminal
bool errorInteractive = !Console.IsErrorRedirected && colour; // the live progress bar needs a terminal on stderr
return App.Run(args, Console.Out, Console.Error, interactive, cancellation.Token, errorInteractive);
