using System.Globalization;
using System.Text;
using Engine.Kernels;
using Engine.Kernels.Cpu;
using Engine.Optimizers;

namespace Engine.Bench.Methods;

/// <summary>
/// <c>dotnet run -c Release --project Bench -- toy [--steps 100000] [--methods a,b,…] [--svg FILE] [--csv FILE]</c>: the
/// two-objective toy of Liu et al. 2021 (CAGrad, Fig. 1; the authors' toy.py), on which gradient methods are usually
/// compared by their trajectories. θ = (x₁, x₂);
/// <code>
/// f₁ = log max(|½(−x₁−7) − tanh(−x₂)|, 5e−6) + 6,   f₂ = log max(|½(−x₁+3) + tanh(−x₂) + 2|, 5e−6) + 6
/// s₁ = ((−x₁+7)² + 0.1(−x₂−8)²)/10 − 20,             s₂ = ((−x₁−7)² + 0.1(−x₂−8)²)/10 − 20
/// c₁ = max(tanh(x₂/2), 0),  c₂ = max(tanh(−x₂/2), 0),   L₁ = c₁f₁ + c₂s₁,   L₂ = c₁f₂ + c₂s₂
/// </code>
/// The Pareto set is the segment x₁ ∈ [−7, 7], x₂ ≈ −8.3552 (the authors' plot). From the authors' three starts
/// (−8.5, 7.5), (−8.5, −5), (9, 9), every registered gradient method (read from <see cref="MethodRegistry"/>) turns the
/// two task gradients into one through the engine's own combiner, on the CPU backend in float32, and Adam (PyTorch's,
/// lr 0.001, as toy.py) takes the step in float64 on the host. Task weights are ½ each, so <c>sum</c> is toy.py's
/// mean gradient and the methods see (½g₁, ½g₂) — Adam's step does not depend on that common scale (up to its ε).
/// The gradients are the analytic ones, checked against central differences before the runs. Prints, per method and
/// start, the end point, L₁, L₂, their mean and the distance to the Pareto segment; writes the trajectories (every 100th
/// step) as CSV and as an SVG of small multiples over the mean loss.
/// </summary>
public static class ToyCommand
{
    private const double Lower = 0.000005, ParetoY = -8.3552;
    private static readonly (double X, double Y)[] Starts = [(-8.5, 7.5), (-8.5, -5), (9, 9)];

    public static int Run(string[] args)
    {
        int steps = int.Parse(CommandArgs.Option(args, "--steps", "100000"), CultureInfo.InvariantCulture);
        var only = CommandArgs.Option(args, "--methods", "");
        var svgPath = CommandArgs.Option(args, "--svg", "");
        var csvPath = CommandArgs.Option(args, "--csv", "");
        CheckGradients();
        var methods = MethodRegistry.All.Where(m => m.Kind == MethodKind.Gradient && (only.Length == 0 || only.Split(',').Contains(m.Name))).ToArray();
        using var backend = new CpuBackend<float>(1);
        var trajectories = new Dictionary<string, List<(double X, double Y)>[]>();
        Console.WriteLine($"CAGrad toy (Liu et al. 2021): {steps} Adam steps (lr 0.001) from each start; Pareto set x₁ ∈ [−7, 7], x₂ = {ParetoY}.");
        Console.WriteLine();
        Console.WriteLine("| method | start | end (x₁, x₂) | L₁ | L₂ | mean | distance to Pareto set |");
        Console.WriteLine("|---|---|---|---|---|---|---|");
        foreach (var method in methods)
        {
            var paths = new List<(double, double)>[Starts.Length];
            for (int s = 0; s < Starts.Length; s++)
            {
                paths[s] = Trajectory(method, backend, Starts[s], steps);
                var (x, y) = paths[s][^1];
                var (l1, l2, _) = Losses(x, y);
                Console.WriteLine(FormattableString.Invariant($"| {method.Name} | ({Starts[s].X}, {Starts[s].Y}) | ({x:0.000}, {y:0.000}) | {l1:0.000} | {l2:0.000} | {(l1 + l2) / 2:0.000} | {ParetoDistance(x, y):0.000} |"));
            }
            trajectories[method.Name] = paths;
        }
        if (csvPath.Length > 0) File.WriteAllText(csvPath, Csv(trajectories, steps));
        if (svgPath.Length > 0) File.WriteAllText(svgPath, Svg(trajectories));
        return 0;
    }

    /// <summary>One run: the method's combiner on the device, PyTorch's Adam on the host; every 100th point kept.</summary>
    private static List<(double X, double Y)> Trajectory(MethodDescriptor method, Backend<float> backend, (double X, double Y) start, int steps)
    {
        string[] tasks = ["L1", "L2"];
        using var gradients = backend.Allocate<float>(4);
        using var weights = backend.Allocate<float>([0.5f, 0.5f]);
        using var combined = backend.Allocate<float>(2);
        using var losses = backend.Allocate<float>(2);
        var context = new MethodContext
        {
            Backend = backend, TaskNames = tasks, LossWeights = [0.5, 0.5], Seed = 1, Losses = losses.View, SharedLength = 2,
            Arguments = MethodArguments.Parse(method, new Dictionary<string, string>(), tasks),
        };
        var combiner = method.CreateGradient!(context);
        double x = start.X, y = start.Y, m1 = 0, m2 = 0, v1 = 0, v2 = 0;
        const double lr = 0.001, beta1 = 0.9, beta2 = 0.999, eps = 1e-8;
        Span<float> g = stackalloc float[4];
        Span<float> d = stackalloc float[2];
        var path = new List<(double, double)> { (x, y) };
        for (int t = 1; t <= steps; t++)
        {
            var (l1, l2, grad) = Losses(x, y);
            g[0] = (float)grad[0]; g[1] = (float)grad[1]; g[2] = (float)grad[2]; g[3] = (float)grad[3];
            backend.Upload<float>(g, gradients.View);
            backend.Upload<float>([(float)l1, (float)l2], losses.View);
            combiner.Combine(gradients.View, 2, weights.View, combined.View);
            backend.Download(combined.View, d);
            // torch.optim.Adam (amsgrad off, no weight decay): m, v, bias corrections, θ −= lr·m̂/(√v̂ + ε).
            m1 = beta1 * m1 + (1 - beta1) * d[0]; v1 = beta2 * v1 + (1 - beta2) * d[0] * d[0];
            m2 = beta1 * m2 + (1 - beta1) * d[1]; v2 = beta2 * v2 + (1 - beta2) * d[1] * d[1];
            double c1 = 1 - Math.Pow(beta1, t), c2 = Math.Sqrt(1 - Math.Pow(beta2, t));
            x -= lr / c1 * m1 / (Math.Sqrt(v1) / c2 + eps);
            y -= lr / c1 * m2 / (Math.Sqrt(v2) / c2 + eps);
            if (t % 100 == 0 || t == steps) path.Add((x, y));
        }
        (combiner as IDisposable)?.Dispose();
        return path;
    }

    /// <summary>L₁, L₂ and their gradients [∂L₁/∂x₁, ∂L₁/∂x₂, ∂L₂/∂x₁, ∂L₂/∂x₂] (task-major rows, as the combiners read
    /// them). The clamps pass no gradient below their bound, as torch.clamp's does.</summary>
    internal static (double L1, double L2, double[] Gradient) Losses(double x1, double x2)
    {
        double th = Math.Tanh(-x2), dth = -(1 - th * th);           // d tanh(−x₂)/dx₂
        double a1 = 0.5 * (-x1 - 7) - th, a2 = 0.5 * (-x1 + 3) + th + 2;
        double f1 = Math.Log(Math.Max(Math.Abs(a1), Lower)) + 6, f2 = Math.Log(Math.Max(Math.Abs(a2), Lower)) + 6;
        // d log|a| = da / a where |a| ≥ LOWER, else 0.
        double k1 = Math.Abs(a1) >= Lower ? 1 / a1 : 0, k2 = Math.Abs(a2) >= Lower ? 1 / a2 : 0;
        double f1x1 = -0.5 * k1, f1x2 = -dth * k1, f2x1 = -0.5 * k2, f2x2 = dth * k2;
        double s1 = ((-x1 + 7) * (-x1 + 7) + 0.1 * (-x2 - 8) * (-x2 - 8)) / 10 - 20;
        double s2 = ((-x1 - 7) * (-x1 - 7) + 0.1 * (-x2 - 8) * (-x2 - 8)) / 10 - 20;
        double s1x1 = -2 * (-x1 + 7) / 10, s2x1 = -2 * (-x1 - 7) / 10, sx2 = -0.2 * (-x2 - 8) / 10;
        double t1 = Math.Tanh(0.5 * x2), t2 = Math.Tanh(-0.5 * x2);
        double c1 = Math.Max(t1, 0), c2 = Math.Max(t2, 0);
        double c1x2 = t1 >= 0 ? 0.5 * (1 - t1 * t1) : 0, c2x2 = t2 >= 0 ? -0.5 * (1 - t2 * t2) : 0;
        double l1 = c1 * f1 + c2 * s1, l2 = c1 * f2 + c2 * s2;
        return (l1, l2,
        [
            c1 * f1x1 + c2 * s1x1, c1x2 * f1 + c1 * f1x2 + c2x2 * s1 + c2 * sx2,
            c1 * f2x1 + c2 * s2x1, c1x2 * f2 + c1 * f2x2 + c2x2 * s2 + c2 * sx2,
        ]);
    }

    /// <summary>The analytic gradients against central differences (h = 1e−6) at the starts and a few points away from
    /// the kinks; throws if any differs by more than 1e−5 (relative to max(1, |g|)).</summary>
    private static void CheckGradients()
    {
        (double, double)[] points = [.. Starts, (0.3, -2), (-3, 4), (5, -8), (1.1, 0.7)];
        const double h = 1e-6;
        foreach (var (x, y) in points)
        {
            var g = Losses(x, y).Gradient;
            double[] numeric =
            [
                (Losses(x + h, y).L1 - Losses(x - h, y).L1) / (2 * h), (Losses(x, y + h).L1 - Losses(x, y - h).L1) / (2 * h),
                (Losses(x + h, y).L2 - Losses(x - h, y).L2) / (2 * h), (Losses(x, y + h).L2 - Losses(x, y - h).L2) / (2 * h),
            ];
            for (int i = 0; i < 4; i++)
                if (Math.Abs(g[i] - numeric[i]) > 1e-5 * Math.Max(1, Math.Abs(g[i])))
                    throw new InvalidOperationException($"Toy gradient {i} at ({x}, {y}): analytic {g[i]} vs central difference {numeric[i]}.");
        }
    }

    /// <summary>Distance from (x, y) to the segment x ∈ [−7, 7], y = −8.3552.</summary>
    private static double ParetoDistance(double x, double y)
    {
        double dx = x < -7 ? -7 - x : x > 7 ? x - 7 : 0;
        return Math.Sqrt(dx * dx + (y - ParetoY) * (y - ParetoY));
    }

    private static string Csv(Dictionary<string, List<(double X, double Y)>[]> trajectories, int steps)
    {
        var s = new StringBuilder("method,start,step,x1,x2\n");
        foreach (var (method, paths) in trajectories)
            for (int p = 0; p < paths.Length; p++)
                for (int i = 0; i < paths[p].Count; i++)
                    s.Append(CultureInfo.InvariantCulture, $"{method},{p},{Math.Min(i * 100, steps)},{paths[p][i].X:R},{paths[p][i].Y:R}\n");
        return s.ToString();
    }

    /// <summary>Small multiples, one panel per method: the mean loss ½(L₁+L₂) as a grey-scale grid over [−10, 10]², the
    /// Pareto segment, the starts (black) and each trajectory (one colour per start).</summary>
    private static string Svg(Dictionary<string, List<(double X, double Y)>[]> trajectories)
    {
        const int panel = 240, margin = 24, columns = 4, cells = 48;
        const double range = 10;
        int rows = (trajectories.Count + columns - 1) / columns;
        string[] colours = ["#d62728", "#1f77b4", "#2ca02c"];
        var s = new StringBuilder();
        s.Append(CultureInfo.InvariantCulture, $"<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{columns * (panel + margin) + margin}\" height=\"{rows * (panel + 2 * margin) + margin}\" font-family=\"sans-serif\" font-size=\"13\">\n");
        double Px(double x) => (x + range) / (2 * range) * panel;
        double Py(double y) => (range - y) / (2 * range) * panel;
        // The background grid, shared by every panel (the mean loss ranges over about [−20, 8]).
        var grid = new StringBuilder();
        double cell = (double)panel / cells;
        for (int i = 0; i < cells; i++)
            for (int j = 0; j < cells; j++)
            {
                double x = -range + (j + 0.5) * 2 * range / cells, y = range - (i + 0.5) * 2 * range / cells;
                var (l1, l2, _) = Losses(x, y);
                int shade = (int)Math.Clamp(255 - ((l1 + l2) / 2 + 20) / 28 * 200, 40, 255);
                grid.Append(CultureInfo.InvariantCulture, $"<rect x=\"{j * cell:0.##}\" y=\"{i * cell:0.##}\" width=\"{cell + 0.05:0.##}\" height=\"{cell + 0.05:0.##}\" fill=\"rgb({shade},{shade},{shade})\"/>");
            }
        s.Append("<defs><g id=\"mean-loss\" shape-rendering=\"crispEdges\">").Append(grid).Append("</g></defs>\n");
        int k = 0;
        foreach (var (method, paths) in trajectories)
        {
            int ox = margin + (k % columns) * (panel + margin), oy = margin + (k / columns) * (panel + 2 * margin);
            s.Append(CultureInfo.InvariantCulture, $"<g transform=\"translate({ox},{oy + margin})\"><text x=\"0\" y=\"-6\">{method}</text><use href=\"#mean-loss\"/>\n");
            s.Append(CultureInfo.InvariantCulture, $"<line x1=\"{Px(-7):0.#}\" y1=\"{Py(ParetoY):0.#}\" x2=\"{Px(7):0.#}\" y2=\"{Py(ParetoY):0.#}\" stroke=\"#ffbf00\" stroke-width=\"5\"/>\n");
            for (int p = 0; p < paths.Length; p++)
            {
                s.Append(CultureInfo.InvariantCulture, $"<polyline fill=\"none\" stroke=\"{colours[p]}\" stroke-width=\"1.5\" points=\"");
                foreach (var (x, y) in paths[p]) s.Append(CultureInfo.InvariantCulture, $"{Px(Math.Clamp(x, -range, range)):0.#},{Py(Math.Clamp(y, -range, range)):0.#} ");
                s.Append("\"/>\n");
                s.Append(CultureInfo.InvariantCulture, $"<circle cx=\"{Px(Starts[p].X):0.#}\" cy=\"{Py(Starts[p].Y):0.#}\" r=\"4\" fill=\"black\"/>\n");
            }
            s.Append("</g>\n");
            k++;
        }
        return s.Append("</svg>\n").ToString();
    }
}
