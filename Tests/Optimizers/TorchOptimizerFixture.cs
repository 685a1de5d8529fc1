using System.Numerics;
using System.Text.Json;
using Engine.Optimizers;
using Engine.Tests.Data;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Optimizers;

/// <summary>
/// A PyTorch optimizer trajectory written by a Tests/Fixtures/make_*_fixture.py script (rmsprop_torch.json):
/// two parameters of <see cref="Sizes"/> elements starting at <see cref="Theta0"/>, one fixed gradient per
/// step, and per configuration the parameters after every step and the final state buffers, all float64 in torch 1.13.
/// Values are flattened in parameter order, the engine's flat layout of a <see cref="TestModel{T}"/> over the sizes.
/// </summary>
internal sealed class TorchOptimizerFixture
{
    private readonly JsonElement _root;

    public TorchOptimizerFixture(string file) => _root = JsonDocument.Parse(File.ReadAllText(BundledFiles.Fixture(file))).RootElement;

    public int[] Sizes => [.. _root.GetProperty("sizes").EnumerateArray().Select(v => v.GetInt32())];
    public double[] Theta0 => Flat(_root.GetProperty("theta0"));
    public int Steps => _root.GetProperty("grads").GetArrayLength();
    public int CaseCount => _root.GetProperty("cases").GetArrayLength();
    public string TorchVersion => _root.GetProperty("torch").GetString()!;

    /// <summary>The gradient of step <paramref name="step"/> (0-based).</summary>
    public double[] Gradient(int step) => Flat(_root.GetProperty("grads")[step]);

    /// <summary>Configuration <paramref name="index"/>: its hyper-parameters by PyTorch's names.</summary>
    public JsonElement Case(int index) => _root.GetProperty("cases")[index];

    /// <summary>The clip threshold of a case (+∞: not clipped).</summary>
    public static double Clip(JsonElement c) => c.GetProperty("clip").ValueKind == JsonValueKind.Null ? double.PositiveInfinity : c.GetProperty("clip").GetDouble();

    /// <summary>θ after step <paramref name="step"/> (0-based) of a case.</summary>
    public static double[] Theta(JsonElement c, int step) => Flat(c.GetProperty("thetas")[step]);

    /// <summary>The names of the state buffers PyTorch kept for a case.</summary>
    public static string[] StateNames(JsonElement c) => [.. c.GetProperty("state").EnumerateObject().Select(p => p.Name)];

    /// <summary>A state buffer of a case after the last step.</summary>
    public static double[] State(JsonElement c, string name) => Flat(c.GetProperty("state").GetProperty(name));

    /// <summary>Runs every step on <paramref name="model"/> (clipping as the case says) and checks θ after each step and the
    /// final state against torch: relative <paramref name="rtol"/>, absolute <paramref name="atol"/>.</summary>
    public void Check<T>(TestModel<T> model, IOptimizer<T> optimizer, JsonElement c, double rtol, double atol, string what)
        where T : unmanaged, IFloatingPointIeee754<T>
    {
        model.SetValues(Theta0);
        using var clipper = new GradientClipper<T>(model.Backend, model.Parameters, optimizer.Control);
        for (int step = 0; step < Steps; step++)
        {
            model.SetGradients(Gradient(step));
            clipper.Clip(Clip(c));
            optimizer.Step();
            Tolerance.AllClose(Theta(c, step), Array.ConvertAll(model.Backend.ToArray(model.Parameters.Values), double.CreateTruncating),
                rtol, atol, $"{what}: θ after step {step + 1}");
        }
        var state = optimizer.SaveState();
        string[] names = StateNames(c);
        Assert.Equal(names.Order(), state.Tensors.Keys.Select(k => k[..k.IndexOf('.')]).Distinct().Order());
        foreach (string name in names)
        {
            double[] actual = [.. Enumerable.Range(0, Sizes.Length).SelectMany(k => state.Tensors[$"{name}.p{k}"]).Select(double.CreateTruncating)];
            Tolerance.AllClose(State(c, name), actual, rtol, atol, $"{what}: {name}");
        }
        Assert.Equal(Steps, optimizer.Control.ReadStepCount());
    }

    private static double[] Flat(JsonElement nested) => [.. nested.EnumerateArray().SelectMany(p => p.EnumerateArray().Select(v => v.GetDouble()))];
}
