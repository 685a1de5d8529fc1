using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Activations and their derivatives as streaming ILGPU kernels (<see cref="StreamLayout"/>: 128-bit loads and stores
/// in a grid-stride loop, scalar head and tail; maths: docs/maths.md §5, "Activations").
/// The activation is a kernel argument (a uniform branch), so one compiled kernel serves all four.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, int, StreamLayout>? _activationForward;
    private Action<AcceleratorStream, KernelConfig, Dense, Dense, Dense, int, int, int, StreamLayout>? _activationBackward;

    /// <inheritdoc/>
    public override void ActivationForward(Activation activation, View<float> x, View<float> y)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        KernelChecks.Activation(activation);
        if (x.Length == 0) return;
        var layout = StreamLayout.Of(x.Length, x.Offset, y.Offset);
        _activationForward ??= Accelerator.LoadKernel<Dense, Dense, int, StreamLayout>(ActivationForwardKernel);
        _activationForward(Launched(), StreamConfig(layout), x.Ilgpu(), y.Ilgpu(), (int)activation, layout);
    }

    /// <inheritdoc/>
    public override void ActivationBackwardFromOutput(Activation activation, View<float> output, View<float> dy, View<float> dx, bool accumulate)
    {
        KernelChecks.ActivationBackward(this, activation, output, nameof(output), dy, dx);
        LaunchActivationBackward(activation, output, dy, dx, fromInput: false, accumulate);
    }

    /// <inheritdoc/>
    public override void ActivationBackwardFromInput(Activation activation, View<float> input, View<float> dy, View<float> dx, bool accumulate)
    {
        KernelChecks.ActivationBackward(this, activation, input, nameof(input), dy, dx);
        LaunchActivationBackward(activation, input, dy, dx, fromInput: true, accumulate);
    }

    private void LaunchActivationBackward(Activation activation, View<float> saved, View<float> dy, View<float> dx, bool fromInput, bool accumulate)
    {
        if (saved.Length == 0) return;
        var layout = StreamLayout.Of(saved.Length, saved.Offset, dy.Offset, dx.Offset);
        _activationBackward ??= Accelerator.LoadKernel<Dense, Dense, Dense, int, int, int, StreamLayout>(ActivationBackwardKernel);
        _activationBackward(Launched(), StreamConfig(layout), saved.Ilgpu(), dy.Ilgpu(), dx.Ilgpu(), (int)activation,
            fromInput ? 1 : 0, accumulate ? 1 : 0, layout);
    }

    internal static void ActivationForwardKernel(Dense x, Dense y, int activation, StreamLayout layout)
    {
        var x4 = Vectors(x, layout);
        var y4 = Vectors(y, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 v = x4[j];
            y4[j] = new Vec4(Activate(activation, v.X), Activate(activation, v.Y), Activate(activation, v.Z), Activate(activation, v.W));
        }
        int scalars = ScalarCount(layout);
        for (int t = GlobalThread; t < scalars; t += stride)
        {
            int i = ScalarIndex(layout, t);
            y[i] = Activate(activation, x[i]);
        }
    }

    internal static void ActivationBackwardKernel(Dense saved, Dense dy, Dense dx, int activation, int fromInput, int accumulate, StreamLayout layout)
    {
        var s4 = Vectors(saved, layout);
        var g4 = Vectors(dy, layout);
        var d4 = Vectors(dx, layout);
        int stride = GridThreads;
        for (int j = GlobalThread; j < layout.Vectors; j += stride)
        {
            Vec4 s = s4[j], g = g4[j];
            var d = new Vec4(Derivative(activation, fromInput, s.X, g.X), Derivative(activation, fromInput, s.Y, g.Y),
                             Derivative(activation, fromInput, s.Z, g.Z), Derivative(activation, fromInput, s.W, g.W));
            if (accumulate != 0)
            {
                Vec4 old = d4[j];
                d = new Vec4(old.X + d.X, old.Y + d.Y, old.Z + d.Z, old.W + d.W);
            }
            d4[j] = d;
        }
        int scalars = ScalarCount(layout);
        for (int t = GlobalThread; t < scalars; t += stride)
        {
            int i = ScalarIndex(layout, t);
            float d = Derivative(activation, fromInput, saved[i], dy[i]);
            dx[i] = accumulate != 0 ? dx[i] + d : d;
        }
    }

    /// <summary>dy·f'(x) from the saved input or output (the activation and the flag are uniform: no divergence).</summary>
    private static float Derivative(int activation, int fromInput, float saved, float g)
    {
        // From the input, tanh and sigmoid recompute y = f(x); ReLU's and identity's formulas read the same in x and y.
        float y = fromInput != 0 && activation >= (int)Activation.Tanh ? Activate(activation, saved) : saved;
        return activation switch
        {
            (int)Activation.Relu => y > 0 ? g : 0,          // select, so an infinite g at y = 0 gives 0
            (int)Activation.Tanh => g * (1 - y * y),
            (int)Activation.Sigmoid => g * y * (1 - y),
            _ => g,
        };
    }

    internal static float Activate(int activation, float x) => activation switch
    {
        (int)Activation.Relu => x < 0 ? 0 : x,               // NaN stays NaN
        (int)Activation.Tanh => Tanh(x),
        (int)Activation.Sigmoid => 1 / (1 + XMath.Exp(-x)),  // e^{−x} = ∞ gives 0, e^{−x} = 0 gives 1: no NaN
        _ => x,
    };

    /// <summary>
    /// tanh with small relative error everywhere (the CPU path's AccurateTanh, in float):
    /// for |x| &lt; 0.55 the odd Taylor series x·P(x²) with 9 terms (truncation below 2⁻²⁴ relative);
    /// above, sign(x)·(1 − 2/(e^{2|x|} + 1)), which loses at most a bit to cancellation there and
    /// saturates to ±1 without overflow (e^{2|x|} = ∞ gives 1).
    /// </summary>
    internal static float Tanh(float x)
    {
        float a = XMath.Abs(x);
        if (a < 0.55f)
        {
            float x2 = x * x;
            float p = 6404582f / 10854718875f;
            p = p * x2 - 929569f / 638512875f;
            p = p * x2 + 21844f / 6081075f;
            p = p * x2 - 1382f / 155925f;
            p = p * x2 + 62f / 2835f;
            p = p * x2 - 17f / 315f;
            p = p * x2 + 2f / 15f;
            p = p * x2 - 1f / 3f;
            p = p * x2 + 1f;
            return x * p;
        }
        float t = 1 - 2 / (XMath.Exp(2 * a) + 1);
        return x < 0 ? -t : t;
    }
}
