using System.CommandLine;
using Engine.Kernels;

namespace Engine.Cli.Commands;

/// <summary>Flags that several commands share.</summary>
internal static class SharedFlags
{
    public static Option<string?> Delimiter() =>
        new("--delimiter") { Description = "The field separator: one character, or 'tab' (default: detected among , ; tab |).", HelpName = "CHAR" };

    public static Option<string?> Encoding() =>
        new("--encoding") { Description = "The CSV file's text encoding, e.g. latin1 or windows-1252 (default: UTF-8, where an invalid byte is an error naming its row and column).", HelpName = "NAME" };

    /// <summary>The encoding named by <c>--encoding</c> (null: strict UTF-8); an unknown name is a usage error.</summary>
    public static System.Text.Encoding? ParseEncoding(string? name)
    {
        try { return Engine.Data.TextEncodings.Resolve(name); }
        catch (ArgumentException e) { throw new UsageException($"--encoding {e.Message}"); }
    }

    public static Option<string> Device()
    {
        var option = new Option<string>("--device") { Description = "Where the kernels run.", DefaultValueFactory = _ => "auto" };
        option.AcceptOnlyFromAmong([.. Engine.Kernels.Device.Names]);
        return option;
    }

    public static Option<string> Model() =>
        new("--model") { Description = "The model saved by 'mtl train --save'.", HelpName = "FILE.safetensors", Required = true };

    /// <summary>"," → ','; "tab" or "\t" → '\t'; null → detect.</summary>
    public static char? ParseDelimiter(string? text) => text switch
    {
        null => null,
        "tab" or "\\t" or "\t" => '\t',
        { Length: 1 } => text[0],
        _ => throw new UsageException($"--delimiter '{text}': must be one character (or 'tab')."),
    };
}
