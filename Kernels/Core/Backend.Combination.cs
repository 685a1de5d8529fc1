namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// Gram matrix of <paramref name="count"/> vectors of length <paramref name="length"/> stored as rows of
    /// <paramref name="vectors"/>: <c>gram[i, j] = vᵢ·vⱼ</c> (count×count) in one pass over the vectors.
    /// </summary>
    public abstract void Gram(View<T> vectors, int count, int length, View<T> gram);

    /// <summary><c>output (+)= Σᵢ coefficients[i]·vᵢ</c>, the coefficients read on the device.</summary>
    public abstract void LinearCombination(View<T> vectors, int count, int length, View<T> coefficients, View<T> output, bool accumulate);
}
