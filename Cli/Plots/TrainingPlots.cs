using System.Globalization;
using Engine.Training;
using ScottPlot;
using SkiaSharp;

namespace Engine.Plots;

/// <summary>The files <see cref="TrainingPlots.Write"/> wrote (each chart as PNG and SVG), and the charts it skipped and why.</summary>
public sealed record PlotFiles(IReadOnlyList<string> Files, IReadOnlyList<string> Skipped);

/// <summary>
/// Pictures of a training run, from its <see cref="TrainingResult"/> (the trainer's per-epoch reports), each written as
/// PNG and SVG through ScottPlot (headless: SkiaSharp with its self-contained Linux native library):
/// <list type="bullet">
/// <item><c>loss</c>: each task's training (solid) and validation (dashed) loss per epoch, log axis.</item>
/// <item><c>metric</c>: each task's main metric per epoch — RMSE for a regression (lower is better), accuracy for a
/// classification — training and validation (needs the tracked metrics, <see cref="StepOptions.TrackMetrics"/>).</item>
/// <item><c>gradient-norms</c>: the global gradient norm and each layer's (parameter's) norm per epoch, log axis:
/// vanishing shows as lines falling by decades, exploding as lines rising.</item>
/// <item><c>task-weights</c>: each task's weight λ per epoch.</item>
/// <item><c>task-cosines</c>: the task-gradient cosine matrix cos(gᵢ, gⱼ) of the last epoch as a heat map on [−1, 1]
/// (needs the per-task gradients: any combiner but sum, or the diagnostics).</item>
/// </list>
/// </summary>
public static class TrainingPlots
{
    /// <summary>Width and height of every chart, in pixels.</summary>
    public const int Width = 800, Height = 500;

    /// <summary>The chart names, in the order they are written.</summary>
    public static IReadOnlyList<string> Charts { get; } = ["loss", "metric", "gradient-norms", "task-weights", "task-cosines"];

    /// <summary>Writes every chart the history allows into <paramref name="directory"/> (created if missing) as
    /// <c>{prefix}{chart}.png</c> and <c>.svg</c>; returns what was written and what was skipped (and why).</summary>
    public static PlotFiles Write(TrainingResult result, string directory, string prefix = "")
    {
        ArgumentNullException.ThrowIfNull(result);
        ArgumentException.ThrowIfNullOrEmpty(directory);
        if (result.History.Count == 0) throw new ArgumentException("The training result has no epochs to plot.", nameof(result));
        Directory.CreateDirectory(directory);
        // The charts are independent, and so are a chart's PNG and SVG: each (chart, format) is one job, drawn on its own
        // Plot (a Plot is not shared between threads; Draw costs at most a few ms), so the PNG and the SVG of the costliest
        // chart (the per-layer gradient norms) run side by side instead of one after the other.
        var files = new string?[2 * Charts.Count];
        var skipped = new string?[Charts.Count];
        Parallel.For(0, 2 * Charts.Count, job =>
        {
            var (i, svg) = (job / 2, job % 2 == 1);
            var chart = Charts[i];
            using var plot = new Plot();
            var reason = Draw(chart, result.History, plot);
            if (reason is not null) { if (!svg) skipped[i] = $"{chart}: {reason}"; return; }
            var path = Path.Combine(directory, $"{prefix}{chart}.{(svg ? "svg" : "png")}");
            if (svg) plot.SaveSvg(path, Width, Height);
            else { using var png = EncodePng(plot); using var file = File.Create(path); png.SaveTo(file); }
            files[job] = path;
        });
        return new PlotFiles([.. files.OfType<string>()], [.. skipped.OfType<string>()]);
    }

    /// <summary>
    /// <paramref name="plot"/> rendered at <see cref="Width"/> × <see cref="Height"/> and encoded as PNG with zlib level 1 and
    /// the Up filter: the same pixels as ScottPlot's <c>SavePng</c>, whose encoder (Skia's default: every filter tried per row,
    /// zlib level 6) took two thirds of a chart's PNG time for files ~10 % smaller (4 charts: 263 kB against 288 kB).
    /// </summary>
    internal static SKData EncodePng(Plot plot)
    {
        using var surface = SKSurface.Create(new SKImageInfo(Width, Height, SKColorType.Rgba8888, SKAlphaType.Premul))
            ?? throw new InvalidOperationException($"SkiaSharp could not create a {Width} × {Height} surface.");
        plot.Render(surface.Canvas, Width, Height);        // as ScottPlot's GetImage renders
        using var pixels = surface.PeekPixels() ?? throw new InvalidOperationException("SkiaSharp could not read the rendered pixels.");
        return pixels.Encode(new SKPngEncoderOptions(SKPngEncoderFilterFlags.Up, zLibLevel: 1))
            ?? throw new InvalidOperationException("SkiaSharp could not encode the chart as PNG.");
    }

    /// <summary>
    /// Starts drawing two throw-away charts (lines on a log axis with a legend; a heat map with a colour bar and labels) to
    /// PNG and SVG in memory on a background thread, so that the first real <see cref="Write"/> does not pay for loading
    /// ScottPlot, SkiaSharp and its native library, the font and the just-in-time compilation of the drawing code (most
    /// of the time <c>mtl train --plots</c> added). Call it when training starts; <see cref="Write"/> does not need to wait
    /// for it. Never throws: a failure here shows up, named, in the real <see cref="Write"/>.
    /// </summary>
    public static Task WarmUp() => Task.Factory.StartNew(() =>
    {
        try
        {
            double[] x = [1, 2, 3], y = [0.5, -1, -2];
            using (var plot = new Plot())
            {
                Line(plot, x, y, "warm-up", Palette(0), dashed: false);
                Line(plot, x, y, "warm-up (validation)", Palette(1), dashed: true);
                Decorate(plot, "warm-up", "epoch", "loss (log scale)", logY: true);
                EncodePng(plot).Dispose();
                plot.GetSvgXml(Width, Height);
            }
            using (var plot = new Plot())
            {
                var heatmap = plot.Add.Heatmap(new double[,] { { 1, -0.5 }, { -0.5, 1 } });
                heatmap.Colormap = new ScottPlot.Colormaps.MellowRainbow();
                plot.Add.ColorBar(heatmap);
                plot.Add.Text("0.50", 0, 1).LabelAlignment = Alignment.MiddleCenter;
                plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual([new Tick(0, "a"), new Tick(1, "b")]);
                plot.Title("warm-up cos(gᵢ, gⱼ)");
                EncodePng(plot).Dispose();
                plot.GetSvgXml(Width, Height);
            }
        }
        catch (Exception) { /* only a warm-up: Write reports any real failure */ }
    }, CancellationToken.None, TaskCreationOptions.LongRunning, TaskScheduler.Default);

    /// <summary>Draws <paramref name="chart"/> on <paramref name="plot"/>; returns why it cannot be drawn, or null.</summary>
    internal static string? Draw(string chart, IReadOnlyList<EpochReport> history, Plot plot) => chart switch
    {
        "loss" => Loss(history, plot),
        "metric" => Metric(history, plot),
        "gradient-norms" => GradientNorms(history, plot),
        "task-weights" => TaskWeights(history, plot),
        "task-cosines" => Cosines(history, plot),
        _ => throw new ArgumentOutOfRangeException(nameof(chart), chart, $"Charts: {string.Join(", ", Charts)}."),
    };

    private static double[] Epochs(IReadOnlyList<EpochReport> history) => [.. history.Select(e => (double)e.Epoch)];

    private static string? Loss(IReadOnlyList<EpochReport> history, Plot plot)
    {
        var x = Epochs(history);
        var tasks = history[0].Train.Select(t => t.Task).ToArray();
        for (int t = 0; t < tasks.Length; t++)
        {
            var color = Palette(t);
            Line(plot, x, Log10([.. history.Select(e => e.Train[t].Loss)]), $"{tasks[t]} (train)", color, dashed: false);
            if (history.All(e => e.Validation is { Count: > 0 }))
                Line(plot, x, Log10([.. history.Select(e => e.Validation![t].Loss)]), $"{tasks[t]} (validation)", color, dashed: true);
        }
        Decorate(plot, "Loss per task", "epoch", "loss (log scale)", logY: true);
        return null;
    }

    private static string? Metric(IReadOnlyList<EpochReport> history, Plot plot)
    {
        var x = Epochs(history);
        var first = history[0].Train;
        bool any = false;
        for (int t = 0; t < first.Count; t++)
        {
            bool classification = first[t].Accuracy is not null;
            double? Main(Metrics.TaskMetrics m) => classification ? m.Accuracy : m.Rmse;
            if (history.Any(e => Main(e.Train[t]) is null)) continue;
            any = true;
            var color = Palette(t);
            string what = classification ? "accuracy" : "RMSE";
            Line(plot, x, [.. history.Select(e => Main(e.Train[t])!.Value)], $"{first[t].Task} {what} (train)", color, dashed: false);
            if (history.All(e => e.Validation is { Count: > 0 } v && Main(v[t]) is not null))
                Line(plot, x, [.. history.Select(e => Main(e.Validation![t])!.Value)], $"{first[t].Task} {what} (validation)", color, dashed: true);
        }
        if (!any) return "no task has per-epoch metrics (the trainer tracks them with StepOptions.TrackMetrics)";
        Decorate(plot, "Main metric per task (RMSE: lower is better; accuracy: higher is better)", "epoch", "RMSE or accuracy", logY: false);
        return null;
    }

    private static string? GradientNorms(IReadOnlyList<EpochReport> history, Plot plot)
    {
        var x = Epochs(history);
        Line(plot, x, Log10([.. history.Select(e => e.GradientNorm)]), "global", Colors.Black, dashed: false, width: 3);
        var names = history[0].ParameterGradientNorms.Select(p => p.Parameter).ToArray();
        for (int i = 0; i < names.Length; i++)
            Line(plot, x, Log10([.. history.Select(e => e.ParameterGradientNorms[i].Norm)]), names[i], Palette(i), dashed: !names[i].EndsWith(".weight", StringComparison.Ordinal));
        Decorate(plot, "Gradient norms: global and per layer", "epoch", "‖g‖ (log scale)", logY: true);
        return null;
    }

    private static string? TaskWeights(IReadOnlyList<EpochReport> history, Plot plot)
    {
        if (history.Any(e => e.TaskWeights is null)) return "the history has no task weights";
        var x = Epochs(history);
        var tasks = history[0].Train.Select(t => t.Task).ToArray();
        for (int t = 0; t < tasks.Length; t++)
            Line(plot, x, [.. history.Select(e => e.TaskWeights![t])], tasks[t], Palette(t), dashed: false);
        Decorate(plot, "Task weights λ", "epoch", "λ", logY: false);
        return null;
    }

    private static string? Cosines(IReadOnlyList<EpochReport> history, Plot plot)
    {
        var last = history.LastOrDefault(e => e.TaskGradientCosines is not null);
        if (last is null) return "no task-gradient cosines (they need the per-task gradients: --combine other than sum, or --diagnostics)";
        var cos = last.TaskGradientCosines!;
        int n = cos.GetLength(0);
        // Heatmap rows run top to bottom: row i of the image is task i.
        var heatmap = plot.Add.Heatmap(cos);
        heatmap.Colormap = new ScottPlot.Colormaps.MellowRainbow();
        heatmap.ManualRange = new ScottPlot.Range(-1, 1);
        plot.Add.ColorBar(heatmap);
        var tasks = last.Train.Select(t => t.Task).ToArray();
        var ticks = Enumerable.Range(0, n).Select(i => new Tick(i, tasks[i])).ToArray();
        plot.Axes.Bottom.TickGenerator = new ScottPlot.TickGenerators.NumericManual(ticks);
        plot.Axes.Left.TickGenerator = new ScottPlot.TickGenerators.NumericManual(
            [.. Enumerable.Range(0, n).Select(i => new Tick(n - 1 - i, tasks[i]))]);
        for (int i = 0; i < n; i++)
            for (int j = 0; j < n; j++)
            {
                var text = plot.Add.Text(cos[i, j].ToString("F2", CultureInfo.InvariantCulture), j, n - 1 - i);
                text.LabelAlignment = Alignment.MiddleCenter;
                text.LabelFontSize = 16;
            }
        plot.Title($"Task-gradient cosines cos(gᵢ, gⱼ), epoch {last.Epoch}");
        return null;
    }

    private static void Line(Plot plot, double[] x, double[] y, string label, Color color, bool dashed, float width = 2)
    {
        var line = plot.Add.ScatterLine(x, y);
        line.LegendText = label;
        line.Color = color;
        line.LineWidth = width;
        if (dashed) line.LinePattern = LinePattern.Dashed;
    }

    private static void Decorate(Plot plot, string title, string xLabel, string yLabel, bool logY)
    {
        plot.Title(title);
        plot.XLabel(xLabel);
        plot.YLabel(yLabel);
        plot.ShowLegend(Alignment.UpperRight);
        if (logY)
        {
            var ticks = new ScottPlot.TickGenerators.NumericAutomatic
            {
                MinorTickGenerator = new ScottPlot.TickGenerators.LogMinorTickGenerator(),
                IntegerTicksOnly = true,
                LabelFormatter = y => Math.Pow(10, y).ToString("G3", CultureInfo.InvariantCulture),
            };
            plot.Axes.Left.TickGenerator = ticks;
        }
    }

    /// <summary>log₁₀ of positive values (a log axis drawn as a linear one with 10^k tick labels); 0 and below become NaN (a gap).</summary>
    internal static double[] Log10(double[] values) => [.. values.Select(v => v > 0 && double.IsFinite(v) ? Math.Log10(v) : double.NaN)];

    private static Color Palette(int i) => new ScottPlot.Palettes.Category10().GetColor(i);
}
