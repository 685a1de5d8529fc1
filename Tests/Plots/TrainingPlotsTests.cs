using System.Diagnostics;
using System.Xml.Linq;
using Engine.Data;
using Engine.Metrics;
using Engine.Plots;
using Engine.Tests.Data;
using Engine.Training;
using SkiaSharp;

namespace Engine.Tests.Plots;

/// <summary>
/// The training plots, drawn from a hand-made history whose values are known: every file is opened — the PNGs decoded
/// (size, background, the series' colours present, the heat map's cells in the colour of their cosine) and the SVGs
/// parsed (one polyline/path per series, the legend's texts).
/// </summary>
public sealed class TrainingPlotsTests : IDisposable
{
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    private static readonly double[,] s_cosines = { { 1, -0.5 }, { -0.5, 1 } };

    /// <summary>20 epochs of a regression task "a" and a classification task "b", with validation.</summary>
    private static TrainingResult History(bool withCosines = true)
    {
        var epochs = new List<EpochReport>();
        for (int e = 1; e <= 20; e++)
        {
            TaskMetrics[] Metrics(double shift) =>
            [
                new("a", TaskKind.Regression, Loss: 1.0 / e + shift, Rmse: 2.0 / e + shift, Mae: 1.5 / e, Accuracy: null, Labelled: 100),
                new("b", TaskKind.Classification, Loss: 0.5 / e + shift, Rmse: null, Mae: null, Accuracy: 0.5 + 0.02 * e - shift, Labelled: 100),
            ];
            epochs.Add(new EpochReport(e, 20, Metrics(0), Metrics(0.05), GradientNorm: 10.0 / (e * e),
                [("trunk.0.weight", 5.0 / e), ("trunk.0.bias", 1.0 / e), ("heads.a.weight", 2.0 / e)],
                withCosines ? s_cosines : null, [1.0 + 0.01 * e, 1.0 - 0.01 * e], TimeSpan.FromMilliseconds(10)));
        }
        return new TrainingResult(epochs, 20, false, null!);
    }

    [Fact]
    public void Every_chart_is_written_as_png_and_svg_of_the_stated_size()
    {
        var watch = Stopwatch.StartNew();
        var drawn = TrainingPlots.Write(History(), _dir.Path, "run-");
        TestContext.Current.TestOutputHelper?.WriteLine($"first Write: {watch.Elapsed.TotalSeconds:F2} s");
        watch.Restart();
        TrainingPlots.Write(History(), _dir.File_("again"));
        TestContext.Current.TestOutputHelper?.WriteLine($"second Write: {watch.Elapsed.TotalSeconds:F2} s");
        Assert.Empty(drawn.Skipped);
        Assert.Equal(TrainingPlots.Charts.SelectMany(c => new[] { $"run-{c}.png", $"run-{c}.svg" }), drawn.Files.Select(Path.GetFileName));
        foreach (var png in drawn.Files.Where(f => f.EndsWith(".png", StringComparison.Ordinal)))
        {
            using var bitmap = SKBitmap.Decode(png);
            Assert.True(bitmap is not null, $"{png} is not a PNG");
            Assert.Equal((TrainingPlots.Width, TrainingPlots.Height), (bitmap.Width, bitmap.Height));
            Assert.Equal(SKColors.White, bitmap.GetPixel(2, 2)); // the figure's background
        }
        foreach (var svg in drawn.Files.Where(f => f.EndsWith(".svg", StringComparison.Ordinal)))
        {
            var root = XDocument.Load(svg).Root!;
            Assert.Equal("svg", root.Name.LocalName);
            Assert.Equal(TrainingPlots.Width.ToString(System.Globalization.CultureInfo.InvariantCulture), (string?)root.Attribute("width"));
        }
    }

    /// <summary>The PNGs <see cref="TrainingPlots.Write"/> encodes itself (zlib level 1, Up filter: faster than Skia's default,
    /// <see cref="TrainingPlots.EncodePng"/>) hold exactly the pixels of ScottPlot's own <c>SavePng</c> of the same chart: every
    /// one of the 800 × 500 pixels of every chart compared.</summary>
    [Fact]
    public void Its_png_encoder_writes_the_pixels_of_scottplots_own()
    {
        var history = History().History;
        foreach (var chart in TrainingPlots.Charts)
        {
            using var plot = new ScottPlot.Plot();
            Assert.Null(TrainingPlots.Draw(chart, history, plot));
            var reference = _dir.File_($"{chart}-scottplot.png");
            plot.SavePng(reference, TrainingPlots.Width, TrainingPlots.Height);
            using var expected = SKBitmap.Decode(reference);
            using var png = TrainingPlots.EncodePng(plot);
            using var actual = SKBitmap.Decode(png);
            Assert.Equal((expected.Width, expected.Height), (actual.Width, actual.Height));
            int differ = 0;
            for (int y = 0; y < expected.Height; y++)
                for (int x = 0; x < expected.Width; x++)
                    if (expected.GetPixel(x, y) != actual.GetPixel(x, y)) differ++;
            Assert.True(differ == 0, $"{chart}: {differ} of {expected.Width * expected.Height} pixels differ from ScottPlot's SavePng");
            Assert.Contains(Pixels(actual), c => c != SKColors.White);   // something was drawn
        }
    }

    [Fact]
    public void The_loss_chart_draws_each_task_in_its_colour_and_names_every_series()
    {
        var drawn = TrainingPlots.Write(History(), _dir.Path);
        using var bitmap = SKBitmap.Decode(drawn.Files.Single(f => f.EndsWith("loss.png", StringComparison.Ordinal)));
        var colours = Pixels(bitmap).ToHashSet();
        Assert.Contains(new SKColor(0x1f, 0x77, 0xb4), colours); // Category10[0]: task a
        Assert.Contains(new SKColor(0xff, 0x7f, 0x0e), colours); // Category10[1]: task b

        var svg = XDocument.Load(drawn.Files.Single(f => f.EndsWith("loss.svg", StringComparison.Ordinal)));
        var texts = svg.Descendants().Where(e => e.Name.LocalName == "text").Select(e => e.Value.Trim()).ToList();
        foreach (var label in new[] { "a (train)", "a (validation)", "b (train)", "b (validation)", "Loss per task" })
            Assert.Contains(label, texts);
        // The two training series (solid) are one path each through their 20 points: one M and 19 L (the dashed
        // validation series are drawn as many short dash outlines).
        var lines = svg.Descendants().Where(e => e.Name.LocalName == "path").Select(e => (string?)e.Attribute("d") ?? "")
            .Where(d => d.Count(c => c == 'M') == 1 && d.Count(c => c == 'L') == 19).ToList();
        Assert.True(lines.Count >= 2, $"expected the 2 solid series of 20 points, found {lines.Count}");
    }

    [Fact]
    public void The_cosine_heat_map_colours_each_cell_by_its_cosine()
    {
        using var plot = new ScottPlot.Plot();
        Assert.Null(TrainingPlots.Draw("task-cosines", History().History, plot));
        var path = _dir.File_("cos.png");
        plot.SavePng(path, TrainingPlots.Width, TrainingPlots.Height);
        var heatmap = plot.GetPlottables<ScottPlot.Plottables.Heatmap>().Single();
        using var bitmap = SKBitmap.Decode(path);
        // Cell (i, j) is centred at x = j, y = n − 1 − i; sample off-centre, away from the printed value.
        for (int i = 0; i < 2; i++)
            for (int j = 0; j < 2; j++)
            {
                var pixel = plot.GetPixel(new ScottPlot.Coordinates(j + 0.3, 1 - i + 0.3));
                var expected = heatmap.Colormap.GetColor((s_cosines[i, j] + 1) / 2); // the colour map spans [−1, 1]
                var actual = bitmap.GetPixel((int)pixel.X, (int)pixel.Y);
                Assert.True(Close(actual, expected), $"cell ({i},{j}) cos {s_cosines[i, j]}: pixel {actual}, colormap {expected}");
            }
    }

    [Fact]
    public void Charts_that_the_history_cannot_support_are_skipped_with_the_reason()
    {
        var drawn = TrainingPlots.Write(History(withCosines: false), _dir.Path);
        var skipped = Assert.Single(drawn.Skipped);
        Assert.StartsWith("task-cosines: no task-gradient cosines", skipped);
        Assert.Equal(8, drawn.Files.Count);
    }

    [Fact]
    public void Log_axis_values_map_to_log10_and_non_positive_to_gaps()
    {
        Assert.Equal([2, -1, double.NaN, double.NaN], TrainingPlots.Log10([100, 0.1, 0, -3]));
    }

    private static IEnumerable<SKColor> Pixels(SKBitmap bitmap)
    {
        for (int y = 0; y < bitmap.Height; y += 1)
            for (int x = 0; x < bitmap.Width; x += 1)
                yield return bitmap.GetPixel(x, y);
    }

    private static bool Close(SKColor a, ScottPlot.Color b) =>
        Math.Abs(a.Red - b.R) <= 3 && Math.Abs(a.Green - b.G) <= 3 && Math.Abs(a.Blue - b.B) <= 3;
}
