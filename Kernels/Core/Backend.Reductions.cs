namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary><c>result[j] (+)= Σᵢ x[i, j]</c> for x of shape rows×cols (the bias gradient).</summary>
    public abstract void ColumnSums(View<T> x, int rows, int cols, View<T> result, bool accumulate);

    /// <summary><c>result[0] = scale·Σᵢ x[i]</c> (scale = 1/n gives the mean).</summary>
    public abstract void Sum(View<T> x, View<T> result, T scale);

    /// <summary><c>result[0] = Σᵢ a[i]·b[i]</c>.</summary>
    public abstract void Dot(View<T> a, View<T> b, View<T> result);

}
