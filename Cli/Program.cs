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
bool interactive = !Console.IsOutputRedirected && Environment.GetEnvironmentVariable("NO_COLOR") is null;
return App.Run(args, Console.Out, Console.Error, interactive, cancellation.Token);
