namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary>
    /// Layer normalization of each row of x [rows × cols] (PyTorch's <c>nn.LayerNorm(cols)</c>, biased variance):
    /// <c>μᵣ = mean(xᵣ)</c>, <c>rstdᵣ = 1/√(mean((xᵣ − μᵣ)²) + ε)</c>, <c>y[r, j] = γ[g, j]·(x[r, j] − μᵣ)·rstdᵣ + β[g, j]</c>,
    /// where the rows form <paramref name="groups"/> equal consecutive blocks (experts, columns) and block g has its own row
    /// of γ, β [groups × cols]. Writes y and the saved statistics mean[r], rstd[r] (y may be x). Maths: docs/maths.md §21.2;
    /// the readable reference is Kernels/Normalization/LayerNormReference.cs.
    /// </summary>
    public abstract void LayerNormForward(View<T> x, int rows, int cols, int groups, View<T> gamma, View<T> beta, T epsilon,
        View<T> y, View<T> mean, View<T> rstd);

    /// <summary>
    /// The input gradient, fused per row from the saved statistics: with gⱼ = dyⱼ·γⱼ and x̂ⱼ = (xⱼ − μ)·rstd,
    /// <c>dx (+)= rstd·(g − mean(g) − x̂·mean(g ⊙ x̂))</c>. <paramref name="scratch"/> [rows × cols] is overwritten
    /// (the CPU path's row buffer); dx must not overlap x, dy or scratch.
    /// </summary>
    public abstract void LayerNormBackwardInput(View<T> x, View<T> mean, View<T> rstd, View<T> gamma, View<T> dy, int rows, int cols,
        int groups, View<T> scratch, View<T> dx, bool accumulate);

    /// <summary>
    /// The parameter gradients, summed over each group's rows in row order: <c>dγ[g, j] (+)= Σᵣ dy[r, j]·x̂[r, j]</c>,
    /// <c>dβ[g, j] (+)= Σᵣ dy[r, j]</c>. Either may be empty (not computed). <paramref name="scratch"/> [rows × cols] is
    /// overwritten.
    /// </summary>
    public abstract void LayerNormBackwardParameters(View<T> x, View<T> mean, View<T> rstd, View<T> dy, int rows, int cols, int groups,
        View<T> scratch, View<T> dGamma, bool accumulateGamma, View<T> dBeta, bool accumulateBeta);
}
