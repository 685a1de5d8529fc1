namespace Engine.Kernels;

public abstract partial class Backend<T>
{
    /// <summary><c>y = f(x)</c> elementwise (x and y may be the same view).</summary>
    public abstract void ActivationForward(Activation activation, View<T> x, View<T> y);

    /// <summary><c>dx (+)= dy ⊙ f′</c> with f′ computed from the saved output y = f(x):
    /// ReLU 1[y&gt;0], tanh 1−y², sigmoid y(1−y), identity 1.</summary>
    public abstract void ActivationBackwardFromOutput(Activation activation, View<T> output, View<T> dy, View<T> dx, bool accumulate);

    /// <summary><c>dx (+)= dy ⊙ f′(x)</c> with f′ computed from the saved input x.</summary>
    public abstract void ActivationBackwardFromInput(Activation activation, View<T> input, View<T> dy, View<T> dx, bool accumulate);

    /// <summary><c>x[i] = value</c>.</summary>
    public abstract void Fill(View<T> x, T value);

    /// <summary><c>destination = source</c>.</summary>
    public abstract void Copy(View<T> source, View<T> destination);

    /// <summary><c>x *= alpha</c> in place.</summary>
    public abstract void Scale(View<T> x, T alpha);

    /// <summary><c>y += alpha·x</c>.</summary>
    public abstract void Axpy(T alpha, View<T> x, View<T> y);

    /// <summary><c>result = a + b</c> elementwise (result may alias a or b).</summary>
    public abstract void Add(View<T> a, View<T> b, View<T> result);

    /// <summary><c>result (+)= a ⊙ b</c> elementwise.</summary>
    public abstract void Multiply(View<T> a, View<T> b, View<T> result, bool accumulate);

    /// <summary><c>y (+)= s·x</c> where the scalar s = <paramref name="scalar"/>[0] is read on the device
    /// (no host round-trip: this is how an upstream loss gradient or a task weight scales a tensor).</summary>
    public abstract void ScaleByScalar(View<T> x, View<T> scalar, View<T> y, bool accumulate);

    /// <summary>The mean of count-weighted sums, by rows: x holds <paramref name="counts"/>.Length rows of equal width,
    /// and <c>y[i, j] = x[i, j] / counts[i]</c>, or 0 where counts[i] = 0 (a task with no label has no gradient, never
    /// NaN). The counts are read on the device. Used by the data-parallel exchange after the all-reduce (maths §20).</summary>
    public abstract void DivideByCount(View<T> x, View<T> counts, View<T> y);
}
