using Engine.Autodiff;
using Engine.Kernels;

namespace Engine.Tests.Autodiff;

/// <summary>Initializers: reproducible from the seed, and drawn from the distribution each one promises.</summary>
public class InitTests
{
    private const int Out = 200, In = 300; // 60 000 draws: sample moments within ~1% of the true ones

    [Theory]
    [InlineData(Initializer.PyTorchDefault)]
    [InlineData(Initializer.KaimingUniform)]
    [InlineData(Initializer.KaimingNormal)]
    [InlineData(Initializer.XavierUniform)]
    [InlineData(Initializer.XavierNormal)]
    public void Same_seed_same_values_other_seed_other_values(Initializer kind)
    {
        var a = Init.Weight(kind, 4, 5, seed: 7, gain: 1.3);
        Assert.Equal(a, Init.Weight(kind, 4, 5, seed: 7, gain: 1.3));
        Assert.NotEqual(a, Init.Weight(kind, 4, 5, seed: 8, gain: 1.3));
        Assert.Equal(20, a.Distinct().Count());
    }

    /// <summary>The standard deviation each scheme targets (for uniform U(−a, a) it is a/√3).</summary>
    [Theory]
    [InlineData(Initializer.PyTorchDefault, 1.0, 0.033333333333333333)]      // a = 1/√300 → σ = 1/√900
    [InlineData(Initializer.KaimingUniform, 1.4142135623730951, 0.081649658092772603)] // σ = √2/√300
    [InlineData(Initializer.KaimingNormal, 1.4142135623730951, 0.081649658092772603)]
    [InlineData(Initializer.XavierUniform, 1.0, 0.063245553203367587)]       // σ = √(2/(300+200))
    [InlineData(Initializer.XavierNormal, 1.0, 0.063245553203367587)]
    public void Weights_have_the_promised_spread(Initializer kind, double gain, double expectedStd)
    {
        var w = Init.Weight(kind, Out, In, seed: 123, gain);
        double mean = w.Average();
        double std = Math.Sqrt(w.Sum(v => (v - mean) * (v - mean)) / (w.Length - 1));
        Assert.InRange(mean, -0.02 * expectedStd * 5, 0.02 * expectedStd * 5);
        Assert.InRange(std, 0.98 * expectedStd, 1.02 * expectedStd);
        bool uniform = kind is Initializer.PyTorchDefault or Initializer.KaimingUniform or Initializer.XavierUniform;
        double bound = expectedStd * Math.Sqrt(3);
        if (uniform)
        {
            Assert.All(w, v => Assert.InRange(v, -bound, bound));
            Assert.InRange(w.Max(), 0.99 * bound, bound);
        }
        else Assert.Contains(w, v => Math.Abs(v) > bound); // a normal has tails beyond √3·σ (≈ 8% of draws)
    }

    [Fact]
    public void Biases_follow_pytorch_for_the_default_and_are_zero_otherwise()
    {
        var b = Init.Bias(Initializer.PyTorchDefault, 1000, 16, seed: 5);
        Assert.All(b, v => Assert.InRange(v, -0.25, 0.25));
        Assert.InRange(b.Max(), 0.24, 0.25);
        Assert.All(Init.Bias(Initializer.KaimingUniform, 10, 16, seed: 5), v => Assert.Equal(0.0, v));
    }

    [Fact]
    public void Gains_are_pytorchs()
    {
        Assert.Equal(Math.Sqrt(2), Init.Gain(Activation.Relu));
        Assert.Equal(5.0 / 3, Init.Gain(Activation.Tanh));
        Assert.Equal(1.0, Init.Gain(Activation.Sigmoid));
        Assert.Equal(1.0, Init.Gain(Activation.Identity));
    }

    [Fact]
    public void A_dense_layer_is_initialized_reproducibly_in_its_slots()
    {
        double[] Build(ulong seed)
        {
            var backend = new LoopBackend<double>();
            using var flat = new FlatParameters<double>(backend);
            var trunk = Sequential<double>.Mlp(flat, "trunk", 4, [6, 5], Activation.Relu, Activation.Tanh);
            flat.Allocate();
            trunk.Initialize(Initializer.KaimingUniform, seed);
            Assert.Equal(["trunk.0.weight", "trunk.0.bias", "trunk.1.weight", "trunk.1.bias"], flat.Slots.Select(s => s.Name));
            var values = backend.ToArray(flat.Values);
            // Layer 0 (ReLU) uses gain √2 and fan-in 4; its bias is zero.
            Assert.All(values[..24], v => Assert.InRange(v, -Math.Sqrt(2) * Math.Sqrt(3.0 / 4), Math.Sqrt(2) * Math.Sqrt(3.0 / 4)));
            Assert.All(values[24..30], v => Assert.Equal(0.0, v));
            return values;
        }
        Assert.Equal(Build(9), Build(9));
        Assert.NotEqual(Build(9), Build(10));
    }
}
