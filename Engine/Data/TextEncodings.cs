using System.Text;

namespace Engine.Data;

/// <summary>Text encodings of CSV files by name (<c>--encoding</c>): every name .NET knows, the Windows code pages included.</summary>
public static class TextEncodings
{
    static TextEncodings() => Encoding.RegisterProvider(CodePagesEncodingProvider.Instance);

    /// <summary>The encoding called <paramref name="name"/> (e.g. <c>utf-8</c>, <c>latin1</c>, <c>windows-1252</c>, <c>utf-16</c>);
    /// null or empty: null (UTF-8, checked strictly by <see cref="CsvTable.Load(string, TableSchema?, char?, DataEncoding?, System.Text.Encoding?, MissingLabels, MissingInputs)"/>).</summary>
    /// <exception cref="ArgumentException">No encoding has that name.</exception>
    public static Encoding? Resolve(string? name)
    {
        if (string.IsNullOrWhiteSpace(name)) return null;
        try { return Encoding.GetEncoding(name.Trim()); }
        catch (ArgumentException e)
        {
            throw new ArgumentException($"'{name}' is not a text encoding this program knows (e.g. utf-8, latin1, windows-1252, utf-16).", nameof(name), e);
        }
    }
}
