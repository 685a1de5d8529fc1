using System.Numerics;
using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The float64 backends the autodiff's exact tests run on: the engine's SIMD CPU path (the reference the
/// float32 devices are compared with) and <see cref="LoopBackend{T}"/>, naive loops written in the tests.
/// </summary>
public static class Float64Backends
{
    public const string Cpu = "cpu-f64";
    public const string Loops = "loops-f64";

    private static readonly Lazy<LoopBackend<double>> s_loops = new(() => new LoopBackend<double>());

    public static TheoryData<string> All => new() { Cpu, Loops };

    public static Backend<double> Get(string name) => name switch
    {
        Cpu => TestDevices.Reference,
        Loops => s_loops.Value,
        _ => throw new ArgumentException($"Unknown float64 backend '{name}'."),
    };
}

/// <summary>Leaf tensors with their own value and gradient buffers, freed together.</summary>
public sealed class Leaves<T>(Backend<T> backend) : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly List<IDisposable> _buffers = [];

    public Backend<T> Backend => backend;

    /// <summary>A rows×cols leaf holding <paramref name="values"/>, with a gradient buffer.</summary>
    public Tensor<T> Make(string name, int rows, int cols, double[] values, bool requiresGrad = true)
    {
        var data = backend.Allocate<T>(rows * cols);
        _buffers.Add(data);
        Init.Upload(backend, values, data.View);
        View<T> grad = default;
        if (requiresGrad)
        {
            var g = backend.Allocate<T>(rows * cols);
            _buffers.Add(g);
            backend.Fill(g.View, T.Zero);
            grad = g.View;
        }
        return new Tensor<T>(data.View, rows, cols, grad, name);
    }

    /// <summary>A leaf of seeded random values in [−1, 1), pushed at least <paramref name="gap"/> away from 0
    /// (so a ReLU kink is never within a finite-difference step).</summary>
    public Tensor<T> Random(string name, int rows, int cols, int seed, double gap = 0, bool requiresGrad = true)
    {
        var values = Tolerance.Random(rows * cols, seed);
        if (gap > 0) values = Array.ConvertAll(values, v => Math.CopySign(gap + Math.Abs(v), v));
        return Make(name, rows, cols, values, requiresGrad);
    }

    /// <summary>Uploads labels (validated) and returns them.</summary>
    public Engine.Autodiff.Labels Labels(int[] values, int classes)
    {
        var buffer = Engine.Autodiff.Labels.Upload(backend, values, classes);
        _buffers.Add(buffer);
        return new Engine.Autodiff.Labels(buffer.View);
    }

    public void Dispose()
    {
        foreach (var b in _buffers) b.Dispose();
    }
}
