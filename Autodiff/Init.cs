using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>How a dense layer's weights (and bias) start.</summary>
public enum Initializer
{
    /// <summary>PyTorch's <c>nn.Linear</c> default: W, b ~ U(−1/√in, 1/√in)
    /// (<c>kaiming_uniform_(a=√5)</c> for W, which reduces to that bound).</summary>
    PyTorchDefault,
    /// <summary>He uniform: W ~ U(−g·√(3/in), g·√(3/in)), b = 0.</summary>
    KaimingUniform,
    /// <summary>He normal: W ~ N(0, (g/√in)²), b = 0.</summary>
    KaimingNormal,
    /// <summary>Glorot uniform: W ~ U(−g·√(6/(in+out)), g·√(6/(in+out))), b = 0.</summary>
    XavierUniform,
    /// <summary>Glorot normal: W ~ N(0, g²·2/(in+out)), b = 0.</summary>
    XavierNormal,
}

/// <summary>
/// Weight initializers, seeded and reproducible on every machine: values come from a SplitMix64 stream
/// (not <see cref="Random"/>, whose algorithm is not promised), in float64, then round to the device type.
/// g is the gain of the layer's activation (<see cref="Gain"/>).
/// </summary>
public static class Init
{
    /// <summary>PyTorch's <c>calculate_gain</c>: identity and sigmoid 1, ReLU √2, tanh 5/3.</summary>
    public static double Gain(Activation activation) => activation switch
    {
        Activation.Relu => Math.Sqrt(2.0),
        Activation.Tanh => 5.0 / 3.0,
        _ => 1.0,
    };

    /// <summary>An [outputs × inputs] weight matrix, row-major.</summary>
    public static double[] Weight(Initializer kind, int outputs, int inputs, ulong seed, double gain = 1.0)
    {
        Check.Positive(outputs, nameof(outputs));
        Check.Positive(inputs, nameof(inputs));
        var rng = new SplitMix64(seed);
        var w = new double[outputs * inputs];
        double fanIn = inputs, fanAvg = (inputs + outputs) / 2.0;
        switch (kind)
        {
            case Initializer.PyTorchDefault: rng.FillUniform(w, 1.0 / Math.Sqrt(fanIn)); break;
            case Initializer.KaimingUniform: rng.FillUniform(w, gain * Math.Sqrt(3.0 / fanIn)); break;
            case Initializer.KaimingNormal: rng.FillNormal(w, gain / Math.Sqrt(fanIn)); break;
            case Initializer.XavierUniform: rng.FillUniform(w, gain * Math.Sqrt(3.0 / fanAvg)); break;
            case Initializer.XavierNormal: rng.FillNormal(w, gain / Math.Sqrt(fanAvg)); break;
            default: throw new ArgumentOutOfRangeException(nameof(kind), kind, "Unknown initializer.");
        }
        return w;
    }

    /// <summary>A bias of <paramref name="outputs"/> elements: U(−1/√in, 1/√in) for PyTorch's default, else zeros.</summary>
    public static double[] Bias(Initializer kind, int outputs, int inputs, ulong seed)
    {
        Check.Positive(outputs, nameof(outputs));
        Check.Positive(inputs, nameof(inputs));
        var b = new double[outputs];
        if (kind == Initializer.PyTorchDefault) new SplitMix64(seed).FillUniform(b, 1.0 / Math.Sqrt(inputs));
        return b;
    }

    /// <summary><paramref name="count"/> values uniform in [−bound, bound), seeded (an initializer's own range, e.g. a
    /// DSelect-k gate's U(−γ/100, γ/100)).</summary>
    public static double[] Uniform(int count, double bound, ulong seed)
    {
        Check.Positive(count, nameof(count));
        var values = new double[count];
        new SplitMix64(seed).FillUniform(values, bound);
        return values;
    }

    /// <summary><paramref name="count"/> values N(0, std²), seeded (an embedding table's N(0, 1)).</summary>
    public static double[] Normal(int count, double std, ulong seed)
    {
        Check.Positive(count, nameof(count));
        var values = new double[count];
        new SplitMix64(seed).FillNormal(values, std);
        return values;
    }

    /// <summary>Writes host values into a device view, rounding to <typeparamref name="T"/> (setup time; allocates).</summary>
    public static void Upload<T>(Backend backend, ReadOnlySpan<double> values, View<T> destination) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(backend);
        var converted = new T[values.Length];
        for (int i = 0; i < values.Length; i++) converted[i] = T.CreateChecked(values[i]);
        backend.Upload<T>(converted, destination);
    }

    /// <summary>
    /// SplitMix64 (Steele, Lea, Flood 2014): a 64-bit counter through a strong mixing function. Tiny, fast,
    /// and identical everywhere, which is what reproducible initialization needs.
    /// </summary>
    private struct SplitMix64(ulong seed)
    {
        private ulong _state = seed;

        public ulong Next()
        {
            ulong z = _state += 0x9E3779B97F4A7C15UL;
            z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9UL;
            z = (z ^ (z >> 27)) * 0x94D049BB133111EBUL;
            return z ^ (z >> 31);
        }

        /// <summary>Uniform in [0, 1) with 53 random bits.</summary>
        public double NextDouble() => (Next() >> 11) * (1.0 / (1UL << 53));

        public void FillUniform(Span<double> values, double bound)
        {
            for (int i = 0; i < values.Length; i++) values[i] = (2 * NextDouble() - 1) * bound;
        }

        /// <summary>Box–Muller: two uniforms give two independent standard normals.</summary>
        public void FillNormal(Span<double> values, double std)
        {
            for (int i = 0; i < values.Length; i += 2)
            {
                double u1 = 1.0 - NextDouble(), u2 = NextDouble(); // u1 in (0, 1]: log is finite
                double r = Math.Sqrt(-2.0 * Math.Log(u1)), theta = 2 * Math.PI * u2;
                values[i] = std * r * Math.Cos(theta);
                if (i + 1 < values.Length) values[i + 1] = std * r * Math.Sin(theta);
            }
        }
    }
}
