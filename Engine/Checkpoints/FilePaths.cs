namespace Engine.Checkpoints;

/// <summary>
/// Which file a path names: <see cref="Canonical"/> makes it absolute and resolves every symbolic link on the way
/// (of the directories and of the file itself), so that two spellings of one file — <c>d.csv</c>, <c>./x/../d.csv</c>,
/// a link to it — compare equal with <see cref="Comparer"/>. Used to refuse a command that would write over a file it
/// reads, or write two outputs onto one path.
/// <para>Hard links (two directory entries of one inode) are not detected: .NET has no portable way to read an inode.</para>
/// </summary>
public static class FilePaths
{
    private const int MaxLinkHops = 40; // as Linux's MAXSYMLINKS

    /// <summary>Equality of canonical paths: ordinal on Linux, ignoring case where file systems usually do (Windows, macOS).</summary>
    public static StringComparer Comparer { get; } =
        OperatingSystem.IsWindows() || OperatingSystem.IsMacOS() ? StringComparer.OrdinalIgnoreCase : StringComparer.Ordinal;

    /// <summary>The absolute path with every symbolic link resolved. Components that do not exist yet are kept as written
    /// (a file about to be created); a dangling link resolves to where it points.</summary>
    /// <exception cref="IOException">The links form a loop.</exception>
    public static string Canonical(string path)
    {
        ArgumentException.ThrowIfNullOrEmpty(path);
        int hops = 0;
        return Resolve(Path.GetFullPath(path), ref hops);
    }

    /// <summary>Whether <paramref name="a"/> and <paramref name="b"/> name the same file.</summary>
    public static bool SameFile(string a, string b) => Comparer.Equals(Canonical(a), Canonical(b));

    private static string Resolve(string full, ref int hops)
    {
        string root = Path.GetPathRoot(full) ?? "";
        string current = root;
        foreach (var part in full[root.Length..].Split(Path.DirectorySeparatorChar, Path.AltDirectorySeparatorChar))
        {
            if (part.Length == 0) continue;
            string next = Path.Combine(current, part);
            var info = new FileInfo(next);
            if (info.LinkTarget is { } target)
            {
                if (++hops > MaxLinkHops) throw new IOException($"{full}: too many levels of symbolic links.");
                next = Resolve(Path.GetFullPath(target, current), ref hops);
            }
            current = next;
        }
        return current;
    }
}
