namespace Engine.Tests.Docs;

/// <summary>
/// The fixed top-level layout (README.md "Layout"): every project lives under one of the seven project folders,
/// so no new top-level folder appears beside them (Engine.Plots sits in <c>Cli/Plots/</c>, the distributed test
/// worker in <c>Tests/DistributedWorker/</c>).
/// </summary>
public class LayoutTests
{
    private static readonly string[] s_projectFolders = ["Engine", "Kernels", "Autodiff", "Optimizers", "Tests", "Bench", "Cli"];

    [Fact]
    public void Every_project_sits_under_an_allowed_top_level_folder()
    {
        var root = Repository.Root;
        var projects = Directory.GetFiles(root, "*.csproj", SearchOption.AllDirectories)
            .Select(p => Path.GetRelativePath(root, p).Replace('\\', '/'))
            .Where(p => !p.Split('/').Any(part => part.StartsWith('.') || part is "bin" or "obj"))
            .ToList();
        Assert.Contains("Cli/Plots/Engine.Plots.csproj", projects);
        var misplaced = projects.Where(p => !s_projectFolders.Contains(p.Split('/')[0], StringComparer.Ordinal)).ToList();
        Assert.True(misplaced.Count == 0, "projects outside the fixed top-level folders: " + string.Join(", ", misplaced));
    }
}
