using ILGPU;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

/// <summary>
/// How a bandwidth-bound kernel walks n elements with 128-bit accesses: a scalar head of <see cref="Head"/> elements
/// (0–3, up to the first 16-byte boundary), then <see cref="Vectors"/> float4 (one LDG.E.128 / STG.E.128 per view), then a
/// scalar tail (the rest, at most 3 elements). The 128-bit path needs every view of the launch to start at the same
/// offset modulo 4 (they then reach a 16-byte boundary together: each device buffer starts 256-byte aligned on CUDA);
/// when they do not, <see cref="Vectors"/> is 0 and the whole range is the scalar tail. The flat parameter, gradient and
/// optimizer-state buffers share one layout, so every Adam/SGD launch, parameter groups included, qualifies.
/// </summary>
/// <param name="Head">Scalar elements before the first 16-byte boundary.</param>
/// <param name="Vectors">float4 after them.</param>
/// <param name="Length">All elements.</param>
public readonly record struct StreamLayout(int Head, int Vectors, int Length)
{
    /// <summary>First element of the scalar tail.</summary>
    public int TailStart => Head + 4 * Vectors;

    /// <summary>The layout for <paramref name="length"/> elements of views starting at <paramref name="offsets"/>
    /// (element offsets within their buffers; empty views are left out by the caller).</summary>
    public static StreamLayout Of(int length, params ReadOnlySpan<int> offsets)
    {
        int phase = offsets.Length == 0 ? 0 : offsets[0] & 3;
        foreach (int offset in offsets)
            if ((offset & 3) != phase) return new StreamLayout(0, 0, length);
        int head = Math.Min(length, (4 - phase) & 3);
        return new StreamLayout(head, (length - head) / 4, length);
    }
}

public sealed partial class IlgpuBackend
{
    /// <summary>Threads per group of the streaming kernels.</summary>
    internal const int StreamGroupSize = 256;

    /// <summary>Groups per multiprocessor a streaming kernel launches at most: enough resident warps to hide memory
    /// latency (8 groups of 256 = 64 warps, a full sm_90 SM, twice over); beyond that each thread loops (grid stride).</summary>
    private const int StreamGroupsPerMultiprocessor = 16;

    /// <summary>The grid of a streaming kernel over <paramref name="layout"/>: one thread per float4 (or per scalar
    /// element when there are no vectors), capped at <see cref="StreamGroupsPerMultiprocessor"/> groups per SM.</summary>
    internal KernelConfig StreamConfig(StreamLayout layout)
    {
        int groupSize = Math.Min(StreamGroupSize, Accelerator.MaxNumThreadsPerGroup);
        long work = Math.Max(Math.Max(layout.Vectors, layout.Length - layout.TailStart), layout.Head);
        long groups = Math.Clamp((work + groupSize - 1) / groupSize, 1, (long)Math.Max(1, Accelerator.NumMultiprocessors) * StreamGroupsPerMultiprocessor);
        return new KernelConfig((int)groups, groupSize);
    }

    /// <summary>The float4 part of a view: elements [head, head + 4·count) seen as 16-byte-aligned <see cref="Vec4"/>.</summary>
    /// (Without vectors the empty window starts at 0: ILGPU's SubView rejects an offset equal to the length.)
    internal static ArrayView1D<Vec4, Stride1D.Dense> Vectors(ArrayView1D<float, Stride1D.Dense> x, StreamLayout layout) =>
        x.SubView(layout.Vectors == 0 ? 0 : layout.Head, 4L * layout.Vectors).AsAligned16().Cast<float, Vec4>();

    /// <summary>Index of this thread among all threads of the grid, and the grid's thread count (the grid stride).</summary>
    internal static int GlobalThread => Grid.IdxX * Group.DimX + Group.IdxX;

    /// <inheritdoc cref="GlobalThread"/>
    internal static int GridThreads => Grid.DimX * Group.DimX;

    /// <summary>How many scalar elements there are: the head [0, Head) and the tail [TailStart, Length), enumerated by
    /// <see cref="ScalarIndex"/>.</summary>
    internal static int ScalarCount(StreamLayout layout) => layout.Head + layout.Length - layout.TailStart;

    /// <summary>The element index of the <paramref name="s"/>-th scalar (head first, then tail).</summary>
    internal static int ScalarIndex(StreamLayout layout, int s) => s < layout.Head ? s : layout.TailStart + s - layout.Head;
}
