using ILGPU;
using ILGPU.Runtime;
using Dense = ILGPU.Runtime.ArrayView1D<float, ILGPU.Stride1D.Dense>;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// Dropout as one thread per Philox block: thread b (group g = ⌊b/8⌋, lane j = b mod 8) draws block b's four words
/// (<see cref="Philox.Block"/>, inlined) and handles elements 32g + 8w + j, w = 0…3 — the layout of
/// <see cref="DropoutMask"/>, so consecutive threads touch consecutive elements. Readable reference:
/// <see cref="DropoutMask.Word"/>; the SIMD path is Kernels/Elementwise/CpuDropout.cs.
/// </summary>
public sealed partial class IlgpuBackend
{
    private Action<AcceleratorStream, Index1D, Dense, Dense, DropoutMask, float, int, int>? _dropout;

    /// <inheritdoc/>
    public override void Dropout(View<float> input, DropoutMask mask, View<float> output, bool accumulate)
    {
        KernelChecks.Unary(this, input, nameof(input), output, nameof(output));
        if (accumulate && input == output) throw new ArgumentException("Dropout: an accumulating output cannot be the input.", nameof(output));
        if (input.Length == 0) return;
        _dropout ??= Accelerator.LoadAutoGroupedKernel<Index1D, Dense, Dense, DropoutMask, float, int, int>(DropoutKernel);
        _dropout(Launched(), (input.Length + 31) / 32 * 8, input.Ilgpu(), output.Ilgpu(), mask, (float)mask.Scale, input.Length, accumulate ? 1 : 0);
    }

    /// <summary>Block b: y (+)= keep ? x·scale : 0 for its four elements.</summary>
    internal static void DropoutKernel(Index1D b, Dense x, Dense y, DropoutMask mask, float scale, int n, int accumulate)
    {
        int group = b >> 3, lane = b & 7;
        var block = Philox.Block((uint)(int)b, mask.Layer, mask.StepLow, mask.StepHigh, mask.Key0, mask.Key1);
        for (int w = 0; w < 4; w++)
        {
            int i = group * 32 + w * 8 + lane;
            if (i >= n) return;
            uint word = w == 0 ? block.X0 : w == 1 ? block.X1 : w == 2 ? block.X2 : block.X3;
            float v = word >= mask.Threshold ? x[i] * scale : 0f;
            y[i] = accumulate != 0 ? y[i] + v : v;
        }
    }
}
