namespace Engine.Data;

/// <summary>
/// Bad data in a table file. The message always starts with where the problem is, as a person finds it in
/// an editor: the file, the 1-based line (the header is line 1) and the column name, then what is wrong.
/// </summary>
/// <remarks>Named so that it does not collide with <c>System.Data.DataException</c>.</remarks>
public sealed class DataFileException : Exception
{
    /// <summary>The file the data came from.</summary>
    public string FilePath { get; }

    /// <summary>The 1-based line of the file where the bad record starts (header = 1); 0 when the whole file is at fault.</summary>
    public long Line { get; }

    /// <summary>The column at fault, or null when the problem is not tied to one column.</summary>
    public string? Column { get; }

    /// <summary>What is wrong, without the location prefix.</summary>
    public string Problem { get; }

    /// <summary>Creates the exception; the message is composed from the location and the problem.</summary>
    public DataFileException(string filePath, long line, string? column, string problem, Exception? inner = null)
        : base(Compose(filePath, line, column, problem), inner)
    {
        FilePath = filePath;
        Line = line;
        Column = column;
        Problem = problem;
    }

    private static string Compose(string filePath, long line, string? column, string problem)
    {
        var where = filePath;
        if (line > 0) where += $", row {line}";
        if (column is not null) where += $", column {Excerpt.Quote(column)}";
        return $"{where}: {problem}";
    }
}
