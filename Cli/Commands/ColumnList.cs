using System.Text;

namespace Engine.Cli.Commands;

/// <summary>
/// A list flag's value, e.g. <c>--inputs a,b,c</c>, split into names. A name holding a comma is written in double quotes,
/// as in a CSV header — <c>--inputs '"price, net",qty'</c> (the single quotes are the shell's) — or with the comma escaped
/// by a backslash, <c>--inputs 'price\, net,qty'</c>. As in CSV, a quote opens only at the start of a name, and inside
/// quotes <c>""</c> is one quote; outside, <c>\\</c> is one backslash. Unquoted names are trimmed; empty ones are dropped.
/// </summary>
internal static class ColumnList
{
    /// <summary>The names in <paramref name="text"/>.</summary>
    /// <exception cref="UsageException">A quote is not closed.</exception>
    public static IEnumerable<string> Split(string text, string flag)
    {
        var names = new List<string>();
        var name = new StringBuilder();
        bool quoted = false, wasQuoted = false;
        for (int i = 0; i < text.Length; i++)
        {
            char c = text[i];
            if (quoted)
            {
                if (c == '"' && i + 1 < text.Length && text[i + 1] == '"') { name.Append('"'); i++; }
                else if (c == '"') quoted = false;
                else name.Append(c);
            }
            else if (c == '"' && name.ToString().Trim().Length == 0) { name.Clear(); quoted = wasQuoted = true; } // as in CSV: only at a name's start
            else if (c == '\\' && i + 1 < text.Length && text[i + 1] is ',' or '\\') { name.Append(text[++i]); }
            else if (c == ',') { Flush(); }
            else name.Append(c);
        }
        if (quoted) throw new UsageException($"{flag} {Excerpt(text)}: a double quote is not closed (a name with a comma is written \"a,b\").");
        Flush();
        return names;

        void Flush()
        {
            var value = wasQuoted ? name.ToString() : name.ToString().Trim();
            if (value.Trim().Length > 0) names.Add(value);
            name.Clear();
            wasQuoted = false;
        }
    }

    private static string Excerpt(string text) => text.Length <= 60 ? $"'{text}'" : $"'{text[..57]}…'";
}
