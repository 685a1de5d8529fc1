using System.Reflection;
using System.Text.RegularExpressions;

namespace Engine.Tests.Docs;

/// <summary>
/// The documentation cites only what exists: every repository path, test name and <c>Type.Member</c> written as
/// inline code (or a link target) in README.md and docs/*.md. A failure lists each dangling reference as
/// <c>file:line: `reference`: what is missing</c>, so drift is fixed where it is. Fenced code blocks are not read
/// (the README's C# example is compiled and run by EmbeddingExampleTests and .ci/pack-check).
/// </summary>
public partial class DocsTruthTests
{
    /// <summary>The assemblies a document may cite types of: the engine's five and the tests.</summary>
    private static readonly Assembly[] s_ours =
    [
        typeof(Engine.Kernels.Device).Assembly, typeof(Engine.Autodiff.GradCheck).Assembly,
        typeof(Engine.Optimizers.Adam<float>).Assembly, typeof(MultiTaskModel).Assembly, typeof(Engine.Cli.App).Assembly,
        typeof(DocsTruthTests).Assembly,
    ];

    /// <summary>The documents checked (repository-relative).</summary>
    public static TheoryData<string> Documents()
    {
        var root = Repository.Root;
        var data = new TheoryData<string> { "README.md" };
        foreach (var doc in Directory.GetFiles(Path.Combine(root, "docs"), "*.md").Order(StringComparer.Ordinal))
            data.Add(Path.GetRelativePath(root, doc).Replace('\\', '/'));
        return data;
    }

    [Theory]
    [MemberData(nameof(Documents))]
    public void Every_cited_path_test_and_member_exists(string document)
    {
        var problems = Check(document).ToList();
        Assert.True(problems.Count == 0,
            $"{problems.Count} reference(s) in {document} point at nothing:\n" + string.Join("\n", problems));
    }

    [Fact]
    public void The_checker_finds_a_missing_path_member_and_test()
    {
        var doc = "x\n`Tests/Nowhere/Missing.cs` and `MultiTaskModel.NoSuchMember` and `TrainingStep.Run` and\n" +
                  "`No_such_test_name_here` and [link](docs/absent.md) and `data/README.md` and `DocsTruthTests`\n";
        var problems = Check("virtual.md", doc).ToList();
        Assert.Equal(4, problems.Count);
        Assert.Contains(problems, p => p.StartsWith("virtual.md:2: `Tests/Nowhere/Missing.cs`", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("virtual.md:2: `MultiTaskModel.NoSuchMember`: type MultiTaskModel has no member NoSuchMember", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("virtual.md:3: `No_such_test_name_here`", StringComparison.Ordinal));
        Assert.Contains(problems, p => p.StartsWith("virtual.md:3: `docs/absent.md`", StringComparison.Ordinal));
    }

    [Fact]
    public void Paths_through_git_ignored_folders_are_not_checked()
    {
        // .gpu/ (the GPU bundle, Bench/gpu-pack.sh) and bin/ exist on some machines only: a document citing them must
        // pass and fail alike everywhere. Tests/bin/ exists wherever this test runs, so before ignored folders were
        // skipped this reference was checked and failed.
        Assert.Contains(".gpu", IgnoredNames.Value);
        Assert.Contains("bin", IgnoredNames.Value);
        var doc = "`.gpu/app/Engine.Tests/Nowhere.dll` and `Tests/bin/Release/net10.0/Nowhere.dll` and `Tests/Nowhere/Missing.cs`\n";
        var problems = Check("virtual.md", doc).ToList();
        Assert.Equal(["virtual.md:1: `Tests/Nowhere/Missing.cs`: no such file or folder in the repository"], problems);
        Assert.True(IsIgnored("a/.gpu/b", new HashSet<string> { ".gpu" }));
        Assert.False(IsIgnored("a/gpu/b.gpu", new HashSet<string> { ".gpu" }));
    }

    private static IEnumerable<string> Check(string document) =>
        Check(document, File.ReadAllText(Path.Combine(Repository.Root, document)));

    internal static IEnumerable<string> Check(string document, string text)
    {
        var lines = text.ReplaceLineEndings("\n").Split('\n');
        var folder = Path.GetDirectoryName(Path.Combine(Repository.Root, document))!;
        bool fenced = false;
        for (int i = 0; i < lines.Length; i++)
        {
            var line = lines[i];
            if (line.TrimStart().StartsWith("```", StringComparison.Ordinal)) { fenced = !fenced; continue; }
            if (fenced) continue;
            var references = InlineCode().Matches(line).Select(m => m.Groups[1].Value)
                .Concat(LinkTarget().Matches(line).Select(m => m.Groups[1].Value));
            foreach (var reference in references.Distinct())
                if (Problem(reference.Trim(), folder) is { } problem)
                    yield return $"{document}:{i + 1}: `{reference}`: {problem}";
        }
    }

    /// <summary>What is missing for <paramref name="reference"/>, or null when it exists or is not a reference.</summary>
    private static string? Problem(string reference, string folder)
    {
        if (reference.Contains("://", StringComparison.Ordinal) || reference.StartsWith('#') || reference.StartsWith("mailto:", StringComparison.Ordinal))
            return null;
        reference = reference.Split('#')[0];
        if (IsPath(reference))
        {
            // Only paths that start in the repository (a top-level file or folder, or one beside the document) are
            // checked: `tools/net10.0/any/` inside a package or a script's ignored output folder are not the repository's.
            // A path through a git-ignored folder (`.gpu/app/…`, `Tests/bin/…`) is a build or pack output, there or not
            // depending on the machine, never the repository's: not checked.
            var first = reference.Split('/')[0];
            if (IsIgnored(reference, IgnoredNames.Value)) return null;
            bool inRepository = first is "." or ".." || PathExists(first, folder);
            return !inRepository || PathExists(reference, folder) ? null : "no such file or folder in the repository";
        }
        if (TypeMember().Match(reference) is { Success: true } tm)
        {
            var type = tm.Groups["type"].Value;
            if (s_namespaceRoots.Value.Contains(type)) return null; // a namespace or assembly name (Engine.Kernels, System.Random)
            return MemberProblem(type, tm.Groups["member"].Value);
        }
        if (TestName().IsMatch(reference) && reference.Any(char.IsLower))
            return TestMethods.Value.Contains(reference) ? null : "no test method of that name in Engine.Tests";
        if (TestClass().IsMatch(reference)) return TestClasses.Value.Contains(reference) ? null : "no test class of that name in Engine.Tests";
        return null;
    }

    /// <summary>A repository-relative path: a folder and a name (no spaces, globs, placeholders or absolute paths).</summary>
    private static bool IsPath(string s) =>
        s.Contains('/') && !s.StartsWith('/') && !s.StartsWith('~') && !s.StartsWith('-') && !s.Contains(' ') && !s.Contains('*')
        && !s.Contains('$') && !s.Contains('<') && !s.Contains('{') && !s.Contains('=') && !s.Contains('|') && !s.Contains('…')
        && s.IndexOfAny(['(', ')', ',', ':', '\'', '"']) < 0 && PathLike().IsMatch(s);

    /// <summary>The plain folder and file names .gitignore lists (<c>bin/</c>, <c>/.gpu/</c>; patterns with globs are left out).</summary>
    internal static readonly Lazy<HashSet<string>> IgnoredNames = new(() =>
    [
        .. File.ReadAllLines(Path.Combine(Repository.Root, ".gitignore")).Select(l => l.Trim().Trim('/'))
            .Where(l => l.Length > 0 && !l.StartsWith('#') && l.IndexOfAny(['*', '?', '[', '!', '/']) < 0),
    ]);

    /// <summary>True when a segment of <paramref name="path"/> is one of the <paramref name="ignored"/> names.</summary>
    internal static bool IsIgnored(string path, IReadOnlySet<string> ignored) =>
        path.Split('/', StringSplitOptions.RemoveEmptyEntries).Any(ignored.Contains);

    private static bool PathExists(string path, string folder)
    {
        foreach (var basis in new[] { Repository.Root, folder })
        {
            var full = Path.GetFullPath(Path.Combine(basis, path));
            if (File.Exists(full) || Directory.Exists(full)) return true;
        }
        return false;
    }

    private static string? MemberProblem(string typeName, string member)
    {
        var types = TypesNamed(typeName);
        if (types.Count == 0)
        {
            // `Trunk.Parameters`: a property (model.Trunk) followed by a member of its type.
            types = [.. s_ours.SelectMany(SafeTypes).SelectMany(t => t.GetProperties(BindingFlags.Public | BindingFlags.Instance))
                .Where(p => p.Name == typeName).Select(p => p.PropertyType).Distinct()];
            if (types.Count == 0) return $"no type or property {typeName} in the engine's assemblies or the libraries they use";
        }
        const BindingFlags all = BindingFlags.Public | BindingFlags.NonPublic | BindingFlags.Instance | BindingFlags.Static | BindingFlags.FlattenHierarchy;
        foreach (var type in types)
        {
            if (type.GetMember(member, all).Length > 0) return null;
            if (type.GetInterfaces().Any(i => i.GetMember(member, all).Length > 0)) return null;
        }
        return $"type {typeName} has no member {member}";
    }

    /// <summary>Ours, then what they reference (System.*, ILGPU, CsvHelper, …): public types of those may be cited too.</summary>
    private static readonly Lazy<Assembly[]> s_citable = new(() =>
    {
        var all = new List<Assembly>(s_ours);
        foreach (var name in s_ours.SelectMany(a => a.GetReferencedAssemblies()).DistinctBy(n => n.Name))
        {
            try { all.Add(Assembly.Load(name)); } catch (IOException) { } catch (BadImageFormatException) { }
        }
        all.Add(typeof(Parallel).Assembly);
        all.Add(typeof(GC).Assembly);
        return [.. all.Distinct()];
    });

    private static readonly Lazy<HashSet<string>> s_namespaceRoots = new(() =>
    [
        .. s_citable.Value.SelectMany(SafeTypes).Select(t => t.Namespace?.Split('.')[0]).OfType<string>(),
        .. s_citable.Value.Select(a => a.GetName().Name!.Split('.')[0]),
    ]);

    private static readonly Lazy<Dictionary<string, List<Type>>> s_types = new(() =>
    {
        var map = new Dictionary<string, List<Type>>(StringComparer.Ordinal);
        foreach (var assembly in s_citable.Value)
            foreach (var type in SafeTypes(assembly).Where(t => s_ours.Contains(t.Assembly) || t.IsPublic || t.IsNestedPublic))
            {
                var name = type.Name.Split('`')[0];
                if (!map.TryGetValue(name, out var list)) map[name] = list = [];
                list.Add(type);
            }
        return map;
    });

    private static IReadOnlyList<Type> TypesNamed(string name) => s_types.Value.TryGetValue(name, out var list) ? list : [];

    private static Type[] SafeTypes(Assembly assembly)
    {
        try { return assembly.GetTypes(); }
        catch (ReflectionTypeLoadException e) { return [.. e.Types.OfType<Type>()]; }
    }

    private static readonly Lazy<HashSet<string>> TestMethods = new(() =>
        [.. SafeTypes(typeof(DocsTruthTests).Assembly).SelectMany(t => t.GetMethods(BindingFlags.Public | BindingFlags.Instance | BindingFlags.Static | BindingFlags.DeclaredOnly))
            .Select(m => m.Name)]);

    private static readonly Lazy<HashSet<string>> TestClasses = new(() =>
        [.. SafeTypes(typeof(DocsTruthTests).Assembly).Select(t => t.Name.Split('`')[0])]);

    [GeneratedRegex(@"`([^`\n]+)`")] private static partial Regex InlineCode();
    [GeneratedRegex(@"\]\(([^)\s]+)\)")] private static partial Regex LinkTarget();
    [GeneratedRegex(@"^[A-Za-z0-9_.\-]+(/[A-Za-z0-9_.\-]+)*/?$")] private static partial Regex PathLike();
    /// <summary><c>Type.Member</c>, <c>Type&lt;T&gt;.Member</c>, optionally called: <c>Type.Member(...)</c>.</summary>
    [GeneratedRegex(@"^(?<type>[A-Z][A-Za-z0-9]*)(<[A-Za-z0-9, ]+>)?\.(?<member>[A-Z][A-Za-z0-9]*)(\(.*\))?$")] private static partial Regex TypeMember();
    /// <summary>A test method's name: words joined by underscores, at least three.</summary>
    [GeneratedRegex(@"^[A-Z][A-Za-z0-9]*(_[A-Za-z0-9]+){2,}$")] private static partial Regex TestName();
    [GeneratedRegex(@"^[A-Z][A-Za-z0-9]*Tests$")] private static partial Regex TestClass();
}

/// <summary>The repository's root folder (the one holding Engine.sln), found above the test binaries.</summary>
internal static class Repository
{
    public static string Root { get; } = Find();

    private static string Find()
    {
        for (var dir = new DirectoryInfo(AppContext.BaseDirectory); dir is not null; dir = dir.Parent)
            if (File.Exists(Path.Combine(dir.FullName, "Engine.sln"))) return dir.FullName;
        throw new DirectoryNotFoundException($"No repository root (Engine.sln) above {AppContext.BaseDirectory}.");
    }
}
