namespace Engine.Tests.Data;

/// <summary>A fresh directory under the system temp folder, deleted with everything in it on Dispose.</summary>
public sealed class TempDirectory : IDisposable
{
    public string Path { get; } = Directory.CreateTempSubdirectory("engine-tests-").FullName;

    /// <summary>Writes <paramref name="text"/> to a file in the directory and returns its path.</summary>
    public string Write(string name, string text)
    {
        var path = System.IO.Path.Combine(Path, name);
        File.WriteAllText(path, text);
        return path;
    }

    /// <summary>The path of a file in the directory (not created).</summary>
    public string File_(string name) => System.IO.Path.Combine(Path, name);

    public void Dispose()
    {
        try { Directory.Delete(Path, recursive: true); } catch (IOException) { }
    }
}

/// <summary>Where the bundled datasets are copied beside the test executable.</summary>
public static class BundledFiles
{
    public static string EnergyEfficiency => System.IO.Path.Combine(AppContext.BaseDirectory, "data", "energy_efficiency.csv");
    public static string WineQuality => System.IO.Path.Combine(AppContext.BaseDirectory, "data", "wine_quality.csv");

    /// <summary>Tests/Fixtures in the source tree (found by walking up from the test executable).</summary>
    public static string Fixture(string name)
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
        {
            var candidate = System.IO.Path.Combine(dir.FullName, "Tests", "Fixtures", name);
            if (File.Exists(candidate)) return candidate;
        }
        throw new FileNotFoundException($"Tests/Fixtures/{name} not found above {AppContext.BaseDirectory}.");
    }
}
