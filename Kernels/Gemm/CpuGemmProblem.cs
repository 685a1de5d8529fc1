using System.Numerics;

namespace Engine.Kernels.Cpu;

/// <summary>A read-only matrix seen through strides: element (i, j) is at <c>Data[i·RowStride + j·ColumnStride]</c>.
/// A stored row-major r×c matrix has strides (c, 1); its transpose is the same memory with strides (1, c).</summary>
internal readonly unsafe struct StridedMatrix<T>(T* data, int rowStride, int columnStride) where T : unmanaged
{
    public T* Data { get; } = data;
    public int RowStride { get; } = rowStride;
    public int ColumnStride { get; } = columnStride;

    /// <summary>Pointer to element (i, j).</summary>
    public T* At(int i, int j) => Data + (long)i * RowStride + (long)j * ColumnStride;

    /// <summary>The sub-matrix starting at (i, j).</summary>
    public StridedMatrix<T> From(int i, int j) => new(Data is null ? null : At(i, j), RowStride, ColumnStride);
}

/// <summary>One GEMM <c>C = act(alpha·op(A)·op(B) + beta·C + bias)</c>, with op(A) m×k, op(B) k×n and C m×n
/// with leading dimension <see cref="Ldc"/>. <see cref="Rows"/> and <see cref="Columns"/> cut it into
/// independent slabs of C for the threads.</summary>
internal readonly unsafe struct GemmProblem<T>(int m, int n, int k, StridedMatrix<T> a, StridedMatrix<T> b,
    T* c, int ldc, T* bias, T alpha, T beta, Activation activation) where T : unmanaged, IFloatingPointIeee754<T>
{
    public int M { get; } = m;
    public int N { get; } = n;
    public int K { get; } = k;
    public StridedMatrix<T> A { get; } = a;
    public StridedMatrix<T> B { get; } = b;
    public T* C { get; } = c;
    public int Ldc { get; } = ldc;
    public T* Bias { get; } = bias;
    public T Alpha { get; } = alpha;
    public T Beta { get; } = beta;
    public Activation Activation { get; } = activation;

    /// <summary>Rows [start, start+count) of C: the same B, a slab of A.</summary>
    public GemmProblem<T> Rows(int start, int count) =>
        new(count, N, K, A.From(start, 0), B, C + (long)start * Ldc, Ldc, Bias, Alpha, Beta, Activation);

    /// <summary>Columns [start, start+count) of C: the same A, a slab of B and of the bias.</summary>
    public GemmProblem<T> Columns(int start, int count) =>
        new(M, count, K, A, B.From(0, start), C + start, Ldc, Bias is null ? null : Bias + start, Alpha, Beta, Activation);
}
