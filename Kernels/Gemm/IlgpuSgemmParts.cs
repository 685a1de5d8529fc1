using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>Four floats that ILGPU loads and stores as one 128-bit access (<c>ld.v4.f32</c> → LDG.E.128 / LDS.128)
/// where the address is known to be 16-byte aligned.</summary>
public struct Vec4
{
    public float X, Y, Z, W;

    public Vec4(float x, float y, float z, float w) { X = x; Y = y; Z = z; W = w; }

    /// <summary>this += a · b, lane by lane (4 FFMA).</summary>
    public void MultiplyAdd(float a, Vec4 b)
    {
        X += a * b.X; Y += a * b.Y; Z += a * b.Z; W += a * b.W;
    }
}

/// <summary>
/// Where one operand's BK×128 slice lives in global memory, as a compile-time policy of <see cref="IlgpuSgemmKernel"/>
/// (a struct type argument: ILGPU compiles one kernel per layout, so no layout branch is left in the kernel).
/// Thread t of the 256 owns 4 consecutive floats of the slice, loaded as one <see cref="Vec4"/>:
/// <list type="bullet">
/// <item><see cref="KContiguous"/> — the operand's tile rows run along k (A not transposed: m×k; B transposed: n×k):
/// thread t reads row t/2, k-columns 4·(t mod 2) … +3, and writes them as 4 floats down a column of the k-major
/// shared tile.</item>
/// <item><see cref="TileContiguous"/> — consecutive elements run along the tile's m (or n) (A transposed: k×m; B not
/// transposed: k×n): thread t reads k-row t/32, elements 4·(t mod 32) … +3, and writes them as one 128-bit store.</item>
/// </list>
/// Rows (or columns) past the matrix edge are clamped to the last valid one before the main loop, so the loop loads
/// without bounds checks; the outputs they feed are never stored.
/// </summary>
public interface ISgemmLayout
{
    /// <summary>The element index (of the operand in global memory) where thread <paramref name="thread"/>'s first slice
    /// starts at k = 0, for the tile starting at <paramref name="tile0"/> of an operand with <paramref name="extent"/>
    /// rows (m or n) and leading dimension <paramref name="ld"/>.</summary>
    int Start(int thread, int tile0, int extent, int ld);

    /// <summary>How far the thread's index moves per unit of k (1 or the leading dimension).</summary>
    int KStride(int ld);

    /// <summary>The k offset within the slice of the thread's first element (for guarded tail loads).</summary>
    int KOffset(int thread);

    /// <summary>Whether the thread's 4 elements run along k (true) or along the tile (false).</summary>
    bool AlongK { get; }

    /// <summary>Writes the thread's 4 values into the k-major shared tile (row stride <see cref="IlgpuSgemmKernel.LdS"/>).</summary>
    void Store(ArrayView<float> tile, ArrayView<Vec4> tile4, int thread, Vec4 v);
}

/// <summary>The operand's rows run along k (A = m×k, or B = n×k when transposed).</summary>
public readonly struct KContiguous : ISgemmLayout
{
    public int Start(int thread, int tile0, int extent, int ld) => IntrinsicMin(tile0 + (thread >> 1), extent - 1) * ld + ((thread & 1) << 2);
    public int KStride(int ld) => 1;
    public int KOffset(int thread) => (thread & 1) << 2;
    public bool AlongK => true;

    public void Store(ArrayView<float> tile, ArrayView<Vec4> tile4, int thread, Vec4 v)
    {
        int at = ((thread & 1) << 2) * IlgpuSgemmKernel.LdS + (thread >> 1);
        tile[at] = v.X; tile[at + IlgpuSgemmKernel.LdS] = v.Y;
        tile[at + 2 * IlgpuSgemmKernel.LdS] = v.Z; tile[at + 3 * IlgpuSgemmKernel.LdS] = v.W;
    }

    internal static int IntrinsicMin(int a, int b) => a < b ? a : b;
}

/// <summary>Consecutive elements run along the tile (A = k×m when transposed, or B = k×n).</summary>
public readonly struct TileContiguous : ISgemmLayout
{
    public int Start(int thread, int tile0, int extent, int ld) => (thread >> 5) * ld + KContiguous.IntrinsicMin(tile0 + ((thread & 31) << 2), extent - 4);
    public int KStride(int ld) => ld;
    public int KOffset(int thread) => thread >> 5;
    public bool AlongK => false;

    public void Store(ArrayView<float> tile, ArrayView<Vec4> tile4, int thread, Vec4 v) =>
        tile4[((thread >> 5) * IlgpuSgemmKernel.LdS + ((thread & 31) << 2)) >> 2] = v;
}

/// <summary>The epilogue's activation as a compile-time policy: one kernel per activation, no per-element switch.</summary>
public interface ISgemmActivation
{
    float Apply(float x);
}

/// <summary>f(x) = x.</summary>
public readonly struct IdentityEpilogue : ISgemmActivation { public float Apply(float x) => x; }

/// <summary>f(x) = max(0, x), NaN kept (a select, not <c>max.f32</c>).</summary>
public readonly struct ReluEpilogue : ISgemmActivation { public float Apply(float x) => IlgpuBackend.Activate((int)Activation.Relu, x); }

/// <summary>The accurate tanh of the elementwise kernel (not <c>tanh.approx.f32</c>).</summary>
public readonly struct TanhEpilogue : ISgemmActivation { public float Apply(float x) => IlgpuBackend.Activate((int)Activation.Tanh, x); }

/// <summary>1 / (1 + e^(−x)).</summary>
public readonly struct SigmoidEpilogue : ISgemmActivation { public float Apply(float x) => IlgpuBackend.Activate((int)Activation.Sigmoid, x); }
