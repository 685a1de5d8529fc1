using Engine.Data;
using Engine.Kernels;

namespace Engine.Tests.Training;

/// <summary>
/// A float64 multi-task MLP written out loop by loop, independent of the engine: forward, per-task losses (MSE mean
/// over all elements, softmax cross-entropy mean over rows, max-shifted), and the per-task gradients of every
/// parameter by hand-written backpropagation (Y = f(X·Wᵀ + b): dZ = dY ⊙ f′, dW = dZᵀ·X, db = Σ_rows dZ, dX = dZ·W).
/// Weights are read from a <see cref="MultiTaskModel"/>, so the engine and this reference start from the same point.
/// </summary>
internal sealed class ReferenceNet
{
    public sealed record Layer(string Name, double[] W, double[] B, int In, int Out, Activation Act);

    public readonly List<Layer> Trunk = [];
    public readonly List<(TaskHead Spec, Layer Layer)> Heads = [];
    /// <summary>Each task's tower layers (empty without a tower), <c>towers.{task}.{i}</c>.</summary>
    public readonly List<List<Layer>> Towers = [];

    public ReferenceNet(MultiTaskModel model)
    {
        var spec = model.Spec;
        int inputs = spec.Inputs;
        for (int i = 0; i < spec.Trunk.Count; i++)
        {
            var act = i == spec.Trunk.Count - 1 ? spec.TrunkOutputActivation ?? spec.TrunkActivation : spec.TrunkActivation;
            Trunk.Add(Read(model, $"trunk.{i}", inputs, spec.Trunk[i], act));
            inputs = spec.Trunk[i];
        }
        foreach (var head in spec.Heads)
        {
            var tower = new List<Layer>();
            int width = inputs;
            for (int i = 0; i < spec.TowerWidths.Count; i++)
            {
                tower.Add(Read(model, $"towers.{head.Name}.{i}", width, spec.TowerWidths[i], spec.TrunkActivation));
                width = spec.TowerWidths[i];
            }
            Towers.Add(tower);
            Heads.Add((head, Read(model, $"heads.{head.Name}", width, head.Outputs, Activation.Identity)));
        }
    }

    private static Layer Read(MultiTaskModel model, string name, int inputs, int outputs, Activation act) =>
        new(name, Array.ConvertAll(model.ReadParameter(name + ".weight"), v => (double)v),
            Array.ConvertAll(model.ReadParameter(name + ".bias"), v => (double)v), inputs, outputs, act);

    public IEnumerable<Layer> Layers => Trunk.Concat(Towers.SelectMany(t => t)).Concat(Heads.Select(h => h.Layer));

    public static double F(Activation a, double z) => a switch
    {
        Activation.Relu => Math.Max(0, z),
        Activation.Tanh => Math.Tanh(z),
        Activation.Sigmoid => 1 / (1 + Math.Exp(-z)),
        _ => z,
    };

    public static double DfFromOutput(Activation a, double y) => a switch
    {
        Activation.Relu => y > 0 ? 1 : 0,
        Activation.Tanh => 1 - y * y,
        Activation.Sigmoid => y * (1 - y),
        _ => 1,
    };

    public static double[] Dense(Layer l, double[] x, int n)
    {
        var y = new double[n * l.Out];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < l.Out; o++)
            {
                double z = l.B[o];
                for (int i = 0; i < l.In; i++) z += x[r * l.In + i] * l.W[o * l.In + i];
                y[r * l.Out + o] = F(l.Act, z);
            }
        return y;
    }

    /// <summary>Activations of every trunk layer (index 0 = the input) and each head's output.</summary>
    public (List<double[]> Trunk, double[][] Outputs) Forward(double[] x, int n)
    {
        var acts = new List<double[]> { x };
        foreach (var l in Trunk) acts.Add(Dense(l, acts[^1], n));
        var outputs = new double[Heads.Count][];
        for (int t = 0; t < Heads.Count; t++) outputs[t] = Dense(Heads[t].Layer, TowerForward(t, acts[^1], n)[^1], n);
        return (acts, outputs);
    }

    /// <summary>Task t's tower activations (index 0 = the shared features it reads).</summary>
    public List<double[]> TowerForward(int task, double[] features, int n)
    {
        var acts = new List<double[]> { features };
        foreach (var l in Towers[task]) acts.Add(Dense(l, acts[^1], n));
        return acts;
    }

    /// <summary>Task t's loss, and its gradient with respect to the head output.</summary>
    public static (double Loss, double[] dOut) Loss(TaskHead head, double[] output, int n, double[]? targets, int[]? labels)
    {
        int k = head.Outputs;
        var d = new double[n * k];
        double loss = 0;
        if (head.Kind == TaskKind.Regression)
        {
            for (int i = 0; i < n * k; i++)
            {
                double e = output[i] - targets![i];
                loss += e * e;
                d[i] = 2 * e / (n * k);
            }
            return (loss / (n * k), d);
        }
        for (int r = 0; r < n; r++)
        {
            double max = double.NegativeInfinity;
            for (int j = 0; j < k; j++) max = Math.Max(max, output[r * k + j]);
            double sum = 0;
            for (int j = 0; j < k; j++) sum += Math.Exp(output[r * k + j] - max);
            loss += Math.Log(sum) - (output[r * k + labels![r]] - max);
            for (int j = 0; j < k; j++) d[r * k + j] = (Math.Exp(output[r * k + j] - max) / sum - (j == labels[r] ? 1 : 0)) / n;
        }
        return (loss / n, d);
    }

    /// <summary>Per task: its (unweighted) loss and the gradient of that loss with respect to every parameter (by name).</summary>
    public (double[] Losses, Dictionary<string, double[]>[] Gradients) TaskGradients(double[] x, int n, double[]?[] targets, int[]?[] labels)
    {
        var (acts, outputs) = Forward(x, n);
        var losses = new double[Heads.Count];
        var grads = new Dictionary<string, double[]>[Heads.Count];
        for (int t = 0; t < Heads.Count; t++)
        {
            var g = new Dictionary<string, double[]>();
            foreach (var l in Layers) { g[l.Name + ".weight"] = new double[l.W.Length]; g[l.Name + ".bias"] = new double[l.B.Length]; }
            (losses[t], var dOut) = Loss(Heads[t].Spec, outputs[t], n, targets[t], labels[t]);
            var tower = TowerForward(t, acts[^1], n);
            var dH = Backward(Heads[t].Layer, tower[^1], outputs[t], dOut, n, g);
            for (int i = Towers[t].Count - 1; i >= 0; i--) dH = Backward(Towers[t][i], tower[i], tower[i + 1], dH, n, g);
            for (int i = Trunk.Count - 1; i >= 0; i--) dH = Backward(Trunk[i], acts[i], acts[i + 1], dH, n, g);
            grads[t] = g;
        }
        return (losses, grads);
    }

    private static double[] Backward(Layer l, double[] x, double[] y, double[] dY, int n, Dictionary<string, double[]> g)
    {
        var dW = g[l.Name + ".weight"];
        var dB = g[l.Name + ".bias"];
        var dX = new double[n * l.In];
        for (int r = 0; r < n; r++)
            for (int o = 0; o < l.Out; o++)
            {
                double dz = dY[r * l.Out + o] * DfFromOutput(l.Act, y[r * l.Out + o]);
                dB[o] += dz;
                for (int i = 0; i < l.In; i++)
                {
                    dW[o * l.In + i] += dz * x[r * l.In + i];
                    dX[r * l.In + i] += dz * l.W[o * l.In + i];
                }
            }
        return dX;
    }

    /// <summary>The flat vector (model layout) of the named gradients; missing names are zero.</summary>
    public static double[] Flatten(FlatParameters<float> layout, Dictionary<string, double[]> grads, Func<string, bool>? include = null)
    {
        var flat = new double[layout.Count];
        foreach (var slot in layout.Slots)
            if ((include?.Invoke(slot.Name) ?? true) && grads.TryGetValue(slot.Name, out var v)) v.CopyTo(flat, slot.Offset);
        return flat;
    }
}
