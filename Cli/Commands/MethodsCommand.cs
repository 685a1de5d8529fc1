using System.CommandLine;
using Engine.Optimizers;

namespace Engine.Cli.Commands;

/// <summary><c>mtl methods</c>: every registered method (loss weightings, gradient methods), one line each, with its
/// typed options — read from <see cref="MethodRegistry"/>, so a registered method is listed without editing the CLI.</summary>
internal static class MethodsCommand
{
    public static Command Create(CliContext context)
    {
        var command = new Command("methods", "List the methods --method takes (loss weightings and gradient methods) and their --method-option keys.");
        command.SetAction(_ => Run(context.Output));
        return command;
    }

    /// <summary>Writes the listing.</summary>
    internal static int Run(TextWriter output)
    {
        foreach (var kind in new[] { MethodKind.LossWeighting, MethodKind.Gradient, MethodKind.Preset })
        {
            output.WriteLine(kind switch
            {
                MethodKind.LossWeighting => "Loss weightings (the task weights λ):",
                MethodKind.Gradient => "Gradient methods (one shared gradient from the task gradients):",
                _ => "Presets (a loss weighting and a gradient method together; their options go to the methods they name):",
            });
            foreach (var m in MethodRegistry.All.Where(m => m.Kind == kind))
            {
                output.WriteLine($"  {m.Name,-14} {m.Summary}{(m.Reference == "—" ? "" : $" ({m.Reference})")}");
                foreach (var o in m.Options)
                    output.WriteLine($"  {"",-14}   {o.Name}={o.Default}  [{o.Domain}] {o.Description}");
            }
            output.WriteLine();
        }
        output.WriteLine("Use --method NAME, or --method WEIGHTING+GRADIENT for one of each (e.g. uncertainty+pcgrad);");
        output.WriteLine("options as --method-option KEY=VALUE (METHOD.KEY when both methods have KEY).");
        return ExitCodes.Ok;
    }

    /// <summary>The registered names, for help text.</summary>
    internal static string Names() => string.Join(", ", MethodRegistry.All.Select(m => m.Name));
}
