namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// Inverted dropout, forward and backward in one kernel: <c>output[i] (+)= input[i]·1/(1 − p)</c> where
    /// <paramref name="mask"/> keeps element i, <c>(+)= 0</c> where it drops it (<see cref="DropoutMask"/>: Philox-4x32-10 of
    /// (seed, step, layer, i), regenerated on every call — nothing is stored). The forward is (x, y, accumulate: false); the
    /// backward of the same mask is (dy, dx, accumulate). Output may be the input's view (not when accumulating).
    /// Maths: docs/maths.md §21.1.
    /// </summary>
    public abstract void Dropout(View<T> input, DropoutMask mask, View<T> output, bool accumulate);
}
