using ILGPU;
using ILGPU.Algorithms;
using ILGPU.Runtime;

namespace Engine.Kernels.Ilgpu;

using FloatView = ArrayView1D<float, Stride1D.Dense>;

/// <summary>The pieces of the fused row-update kernels (MoCo's tracking, DB-MTL's moving average): a group's share of one
/// row update, a group's share of a dot product, and the group sum added atomically — the column chunks, float4 layout
/// and reduction of <see cref="GramKernel"/>, so an update and the products that follow it visit the same columns from
/// the same thread.</summary>
public sealed partial class IlgpuBackend
{
    /// <summary>The grid of a chunked row kernel over <paramref name="length"/> columns: one group per chunk of
    /// <see cref="GramGroupSize"/>·<see cref="GramColumnsPerThread"/> columns, as the Gram's.</summary>
    private (KernelConfig Config, int Chunk) ChunkConfig(int length)
    {
        int groupSize = Math.Min(GramGroupSize, Accelerator.MaxNumThreadsPerGroup);
        int chunk = groupSize * GramColumnsPerThread;
        return (new KernelConfig((length + chunk - 1) / chunk, groupSize), chunk);
    }

    /// <summary>The layout of a row update of <paramref name="state"/> from <paramref name="vectors"/>
    /// (<see cref="RowLayout"/>'s), as scalars when <paramref name="saved"/> starts at another 16-byte phase; and
    /// <see cref="SavedArguments"/>.</summary>
    private static (StreamLayout Layout, FloatView Saved, int Save) UpdateArguments(View<float> vectors, int count, int length,
        View<float> state, View<float> saved)
    {
        var layout = saved.IsEmpty || (saved.Offset & 3) == (vectors.Offset & 3) ? RowLayout(vectors, count, length, state) : new StreamLayout(0, 0, length);
        var (view, save) = SavedArguments(state, saved);
        return (layout, view, save);
    }

    /// <summary>The view and flag a state-updating kernel takes for its optional <c>saved</c> argument: saved and 1, or, when
    /// nothing is saved, the state itself (never written through it) and 0 — a kernel parameter cannot be an empty view.</summary>
    private static (FloatView Saved, int Save) SavedArguments(View<float> state, View<float> saved) =>
        saved.IsEmpty ? (state.Ilgpu(), 0) : (saved.Ilgpu(), 1);

    /// <summary>y ← keep·y + s·g on this thread's columns of the group's chunk (the float4 of the chunk when the rows share a
    /// 16-byte phase, the row's scalar head and tail in group 0; else the chunk as scalars); returns this thread's Σ y² of
    /// the new values (float32). With <paramref name="save"/> ≠ 0 the old y also goes to <paramref name="saved"/> (same
    /// indices and phase; the launch passes y itself, never written, when nothing is saved).</summary>
    private static float UpdateChunk(FloatView y, FloatView g, float keep, float s, int chunk, StreamLayout layout, FloatView saved, int save)
    {
        int start = Grid.IdxX * chunk;
        int end = start + chunk < layout.Length ? start + chunk : layout.Length;
        int vEnd = XMath.Min(end >> 2, layout.Vectors);
        var y4 = Vectors(y, layout);
        var g4 = Vectors(g, layout);
        var saved4 = Vectors(saved, layout);
        float squares = 0;
        for (int k = (start >> 2) + Group.IdxX; k < vEnd; k += Group.DimX)
        {
            Vec4 a = y4[k], b = g4[k];
            if (save != 0) saved4[k] = a;
            var n = new Vec4(keep * a.X + s * b.X, keep * a.Y + s * b.Y, keep * a.Z + s * b.Z, keep * a.W + s * b.W);
            y4[k] = n;
            squares += n.X * n.X + n.Y * n.Y + n.Z * n.Z + n.W * n.W;
        }
        if (layout.Vectors == 0) // rows at different phases: the chunk as scalars
            for (int k = start + Group.IdxX; k < end; k += Group.DimX)
            {
                if (save != 0) saved[k] = y[k];
                float n = keep * y[k] + s * g[k];
                y[k] = n;
                squares += n * n;
            }
        else if (Grid.IdxX == 0) // the scalar head and tail, once
            for (int t = Group.IdxX; t < ScalarCount(layout); t += Group.DimX)
            {
                int k = ScalarIndex(layout, t);
                if (save != 0) saved[k] = y[k];
                float n = keep * y[k] + s * g[k];
                y[k] = n;
                squares += n * n;
            }
        return squares;
    }

    /// <summary>This thread's Σ a[k]·b[k] over the columns <see cref="UpdateChunk"/> gives it (float32).</summary>
    private static float ChunkDot(FloatView a, FloatView b, int chunk, StreamLayout layout)
    {
        int start = Grid.IdxX * chunk;
        int end = start + chunk < layout.Length ? start + chunk : layout.Length;
        int vEnd = XMath.Min(end >> 2, layout.Vectors);
        var a4 = Vectors(a, layout);
        var b4 = Vectors(b, layout);
        float sum = 0;
        for (int k = (start >> 2) + Group.IdxX; k < vEnd; k += Group.DimX)
        {
            Vec4 x = a4[k], y = b4[k];
            sum += x.X * y.X + x.Y * y.Y + x.Z * y.Z + x.W * y.W;
        }
        if (layout.Vectors == 0)
            for (int k = start + Group.IdxX; k < end; k += Group.DimX) sum += a[k] * b[k];
        else if (Grid.IdxX == 0)
            for (int t = Group.IdxX; t < ScalarCount(layout); t += Group.DimX)
            {
                int k = ScalarIndex(layout, t);
                sum += a[k] * b[k];
            }
        return sum;
    }

    /// <summary>The group's sum of <paramref name="partial"/> (<see cref="GroupSumToFirst"/>, a non-finite sum as +∞:
    /// <see cref="AtomicSafe"/>) added by the first thread into target[index], and into target[mirror] when that is another
    /// element. Every thread of the group must call it.</summary>
    private static void AddGroupSum(FloatView target, int index, int mirror, float partial)
    {
        float sum = AtomicSafe(GroupSumToFirst(partial));
        if (Group.IsFirstThread)
        {
            Atomic.Add(ref target[index], sum);
            if (mirror != index) Atomic.Add(ref target[mirror], sum);
        }
        Group.Barrier();
    }
}
