namespace Engine.Data;

/// <summary>Values quoted in error messages, cut to a readable length: a 20 MB field must not become a 20 MB error line.</summary>
public static class Excerpt
{
    /// <summary>The longest excerpt, in characters.</summary>
    public const int MaxLength = 80;

    /// <summary><c>'text'</c>, or for a longer text its first characters and how long it is: <c>'abc…' (20000000 characters)</c>.
    /// Line breaks and other control characters are shown as spaces so the message stays one line.</summary>
    public static string Quote(string? text)
    {
        text ??= "";
        var shown = text.Length <= MaxLength ? text : text[..(MaxLength - 1)] + "…";
        shown = string.Create(shown.Length, shown, (span, s) => { for (int i = 0; i < s.Length; i++) span[i] = char.IsControl(s[i]) ? ' ' : s[i]; });
        return text.Length <= MaxLength ? $"'{shown}'" : $"'{shown}' ({text.Length:N0} characters)";
    }
}
