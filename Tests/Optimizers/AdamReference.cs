using System.Numerics;
using Engine.Kernels;

namespace Engine.Tests.Optimizers;

/// <summary>
/// Float64 references written independently of the code under test: Adam/AdamW/AMSGrad and SGD as the
/// textbook sequence of separate array passes (PyTorch's <c>_single_tensor_adam</c> / <c>_single_tensor_sgd</c>
/// algorithms), and the global-norm clip coefficient.
/// </summary>
internal static class Reference
{
    /// <summary>Adam hyper-parameters for the reference (mirrors AdamOptions without using it).</summary>
    public sealed record AdamConfig(double Lr = 1e-2, double Beta1 = 0.9, double Beta2 = 0.999, double Eps = 1e-8,
        double Wd = 0, bool Decoupled = false, bool AmsGrad = false, bool BiasCorrection = true);

    /// <summary>Adam state of the reference: m, v, vMax and the applied-step count t.</summary>
    public sealed class AdamState(int n)
    {
        public double[] M = new double[n], V = new double[n], VMax = new double[n];
        public int T;
    }

    /// <summary>One Adam step, unfused: every line is its own pass over the arrays.</summary>
    public static void AdamStep(double[] theta, double[] grad, AdamState s, AdamConfig c, double scale = 1)
    {
        int n = theta.Length;
        s.T++;
        var g = new double[n];
        for (int i = 0; i < n; i++) g[i] = grad[i] * scale;                                       // clipping
        if (c.Wd != 0 && c.Decoupled) for (int i = 0; i < n; i++) theta[i] *= 1 - c.Lr * c.Wd;    // AdamW
        if (c.Wd != 0 && !c.Decoupled) for (int i = 0; i < n; i++) g[i] += c.Wd * theta[i];       // L2
        for (int i = 0; i < n; i++) s.M[i] = c.Beta1 * s.M[i] + (1 - c.Beta1) * g[i];
        for (int i = 0; i < n; i++) s.V[i] = c.Beta2 * s.V[i] + (1 - c.Beta2) * g[i] * g[i];
        double bc1 = c.BiasCorrection ? 1 - Math.Pow(c.Beta1, s.T) : 1;
        double bc2 = c.BiasCorrection ? 1 - Math.Pow(c.Beta2, s.T) : 1;
        var vUsed = s.V;
        if (c.AmsGrad)
        {
            for (int i = 0; i < n; i++) s.VMax[i] = Math.Max(s.VMax[i], s.V[i]);
            vUsed = s.VMax;
        }
        var denominator = new double[n];
        for (int i = 0; i < n; i++) denominator[i] = Math.Sqrt(vUsed[i]) / Math.Sqrt(bc2) + c.Eps;
        for (int i = 0; i < n; i++) theta[i] -= c.Lr / bc1 * s.M[i] / denominator[i];
    }

    /// <summary>SGD hyper-parameters for the reference.</summary>
    public sealed record SgdConfig(double Lr = 0.1, double Momentum = 0, double Dampening = 0, double Wd = 0, bool Nesterov = false);

    /// <summary>One SGD step, PyTorch's algorithm (buffer = g on the first step).</summary>
    public static void SgdStep(double[] theta, double[] grad, double[]? buffer, ref bool bufferStarted, SgdConfig c, double scale = 1)
    {
        int n = theta.Length;
        var d = new double[n];
        for (int i = 0; i < n; i++) d[i] = grad[i] * scale + c.Wd * theta[i];
        if (c.Momentum != 0)
        {
            for (int i = 0; i < n; i++) buffer![i] = bufferStarted ? c.Momentum * buffer[i] + (1 - c.Dampening) * d[i] : d[i];
            bufferStarted = true;
            for (int i = 0; i < n; i++) d[i] = c.Nesterov ? d[i] + c.Momentum * buffer![i] : buffer![i];
        }
        for (int i = 0; i < n; i++) theta[i] -= c.Lr * d[i];
    }

    /// <summary>‖g‖ = √Σg² and PyTorch's clip coefficient min(1, c/(‖g‖ + 1e-6)).</summary>
    public static (double Norm, double Scale) Clip(double[] g, double maxNorm)
    {
        double ss = 0;
        foreach (double x in g) ss += x * x;
        double norm = Math.Sqrt(ss);
        return (norm, Math.Min(1, maxNorm / (norm + 1e-6)));
    }
}

/// <summary>A model of one-dimensional parameters named p0, p1, … on a backend, with host-side setters in float64.</summary>
internal sealed class TestModel<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    public TestModel(Backend<T> backend, params int[] lengths)
    {
        Backend = backend;
        Parameters = new FlatParameters<T>(backend);
        for (int i = 0; i < lengths.Length; i++) Parameters.Add($"p{i}", lengths[i]);
        Parameters.Allocate();
    }

    public Backend<T> Backend { get; }
    public FlatParameters<T> Parameters { get; }
    public int Count => Parameters.Count;

    public void SetValues(double[] values) => Backend.Upload<T>(Array.ConvertAll(values, T.CreateTruncating), Parameters.Values);
    public void SetGradients(double[] values) => Backend.Upload<T>(Array.ConvertAll(values, T.CreateTruncating), Parameters.Gradients);
    public double[] Values() => Array.ConvertAll(Backend.ToArray(Parameters.Values), double.CreateTruncating);
    public T[] RawValues() => Backend.ToArray(Parameters.Values);

    /// <summary>Rounds values to T and back (so the float64 reference starts from exactly what the device holds).</summary>
    public static double[] Rounded(double[] values) => Array.ConvertAll(values, v => double.CreateTruncating(T.CreateTruncating(v)));

    public void Dispose() => Parameters.Dispose();
}
