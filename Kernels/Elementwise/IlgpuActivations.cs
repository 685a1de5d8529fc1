using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Activations and their derivatives as implicitly grouped ILGPU kernels: one thread per element,
/// no shared memory (maths: docs/maths.md §5, "Activations").
/// The activation is a kernel argument (a uniform branch), so one compiled kernel serves all four.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, int>? _activationForward;
    private Action<AcceleratorStream, Index1D, Dense, Dense, Dense, int, int, int>? _activationBackward;

    /// <inheritdoc/>
    public override void ActivationForward(Activation activation, View<float> x, View<float> y)
    {
        KernelChecks.Unary(this, x, nameof(x), y, nameof(y));
        KernelChecks.Activation(activation);
        if (x.Length == 0) return;
        _activationForward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, int>(ActivationForwardKernel);
        _activationForward(Stream, x.Length, x.Ilgpu(), y.Ilgpu(), (int)activation);
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
        _activationBackward ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, Dense, int, int, int>(ActivationBackwardKernel);
        _activationBackward(Stream, saved.Length, saved.Ilgpu(), dy.Ilgpu(), dx.Ilgpu(), (int)activation, fromInput ? 1 : 0, accumulate ? 1 : 0);
    }

    internal static void ActivationForwardKernel(Index1D i, Dense x, Dense y, int activation) => y[i] = Activate(activation, x[i]);

    internal static void ActivationBackwardKernel(Index1D i, Dense saved, Dense dy, Dense dx, int activation, int fromInput, int accumulate)
    {
        // From the input, tanh and sigmoid recompute y = f(x); ReLU's and identity's formulas read the same in x and y.
        float y = fromInput != 0 && activation >= (int)Activation.Tanh ? Activate(activation, saved[i]) : saved[i];
        float g = dy[i];
        float d = activation switch
        {
            (int)Activation.Relu => y > 0 ? g : 0,          // select, so an infinite g at y = 0 gives 0
            (int)Activation.Tanh => g * (1 - y * y),
            (int)Activation.Sigmoid => g * y * (1 - y),
            _ => g,
        };
        dx[i] = accumulate != 0 ? dx[i] + d : d;
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
