using System.Numerics;
using Engine.Kernels;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The kernels the autodiff uses, written as the plainest possible loops over managed arrays: an
/// independent reference written in the tests. The autodiff's own tests (tape logic, gradient checks) run
/// on it as well as on the real CPU backend, so a kernel bug and a tape bug cannot hide each other, and
/// the whole multi-task network's gradients on <c>CpuBackend&lt;double&gt;</c> are compared against it.
/// Kernels the autodiff does not call throw <see cref="NotSupportedException"/>.
/// </summary>
public sealed class LoopBackend<T> : Backend<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private sealed class Buffer<TElement>(Backend owner, int length) : DeviceBuffer<TElement>(owner, length) where TElement : unmanaged
    {
        public readonly TElement[] Array = new TElement[length];
        protected override void Free() { }
    }

    private static readonly DeviceInfo s_info = new("naive loops", BackendKind.Cpu, 0, "scalar", 1);

    public override DeviceInfo Info => s_info;

    public override DeviceBuffer<TElement> Allocate<TElement>(int length)
    {
        var buffer = new Buffer<TElement>(this, length);
        // Fresh device memory is garbage: fill it with NaN so a kernel that reads before writing shows up.
        if (buffer.Array is T[] values) System.Array.Fill(values, T.NaN);
        return buffer;
    }

    private Span<TElement> S<TElement>(View<TElement> view) where TElement : unmanaged
    {
        if (view.Buffer is null) return default;
        Check.Owned(this, view, "view");
        return ((Buffer<TElement>)view.Buffer).Array.AsSpan(view.Offset, view.Length);
    }

    public override void Upload<TElement>(ReadOnlySpan<TElement> source, View<TElement> destination)
    {
        Check.Length(destination, source.Length, nameof(destination));
        source.CopyTo(S(destination));
    }

    public override void Download<TElement>(View<TElement> source, Span<TElement> destination)
    {
        Check.Length(source, destination.Length, nameof(source));
        S(source).CopyTo(destination);
    }

    public override void Synchronize() { }
    public override void Dispose() { }

    private static T F(Activation activation, T x) => activation switch
    {
        Activation.Relu => x > T.Zero ? x : T.Zero,
        Activation.Tanh => T.Tanh(x),
        Activation.Sigmoid => T.One / (T.One + T.Exp(-x)),
        _ => x,
    };

    private static T DerivativeFromOutput(Activation activation, T y) => activation switch
    {
        Activation.Relu => y > T.Zero ? T.One : T.Zero,
        Activation.Tanh => T.One - y * y,
        Activation.Sigmoid => y * (T.One - y),
        _ => T.One,
    };

    public override void Gemm(bool transA, bool transB, int m, int n, int k, T alpha, View<T> a, View<T> b, T beta, View<T> c, View<T> bias = default, Activation activation = Activation.Identity)
    {
        CheckGemm(m, n, k, a, b, c, bias);
        var A = S(a); var B = S(b); var C = S(c); var bb = S(bias);
        for (int i = 0; i < m; i++)
            for (int j = 0; j < n; j++)
            {
                T sum = T.Zero;
                for (int p = 0; p < k; p++)
                    sum += (transA ? A[p * m + i] : A[i * k + p]) * (transB ? B[j * k + p] : B[p * n + j]);
                T value = alpha * sum + (beta == T.Zero ? T.Zero : beta * C[i * n + j]) + (bb.IsEmpty ? T.Zero : bb[j]);
                C[i * n + j] = F(activation, value);
            }
    }

    public override void BatchedGemm(bool transA, bool transB, int m, int n, int k, T alpha, View<T> a, int strideA, View<T> b, int strideB,
        T beta, View<T> c, int strideC, int count, View<T> bias = default, int strideBias = 0, Activation activation = Activation.Identity)
    {
        var A = S(a); var B = S(b); var C = S(c); var bb = S(bias);
        for (int e = 0; e < count; e++)
            for (int i = 0; i < m; i++)
                for (int j = 0; j < n; j++)
                {
                    T sum = T.Zero;
                    for (int p = 0; p < k; p++)
                        sum += (transA ? A[e * strideA + p * m + i] : A[e * strideA + i * k + p]) * (transB ? B[e * strideB + j * k + p] : B[e * strideB + p * n + j]);
                    int at = e * strideC + i * n + j;
                    T value = alpha * sum + (beta == T.Zero ? T.Zero : beta * C[at]) + (bb.IsEmpty ? T.Zero : bb[e * strideBias + j]);
                    C[at] = F(activation, value);
                }
    }

    public override void SoftmaxRows(View<T> x, int rows, int cols, View<T> y)
    {
        var X = S(x); var Y = S(y);
        for (int r = 0; r < rows; r++)
        {
            T max = X[r * cols];
            for (int j = 1; j < cols; j++) max = T.Max(max, X[r * cols + j]);
            T sum = T.Zero;
            for (int j = 0; j < cols; j++) sum += T.Exp(X[r * cols + j] - max);
            for (int j = 0; j < cols; j++) Y[r * cols + j] = T.Exp(X[r * cols + j] - max) / sum;
        }
    }

    public override void SoftmaxRowsBackward(View<T> y, View<T> dy, int rows, int cols, View<T> dx, bool accumulate)
    {
        var Y = S(y); var DY = S(dy); var DX = S(dx);
        for (int r = 0; r < rows; r++)
        {
            T inner = T.Zero;
            for (int j = 0; j < cols; j++) inner += DY[r * cols + j] * Y[r * cols + j];
            for (int j = 0; j < cols; j++) DX[r * cols + j] = (accumulate ? DX[r * cols + j] : T.Zero) + Y[r * cols + j] * (DY[r * cols + j] - inner);
        }
    }

    public override void Mixture(View<T> x, View<T> g, int experts, int batch, int width, View<T> y)
    {
        var X = S(x); var G = S(g); var Y = S(y);
        for (int b = 0; b < batch; b++)
            for (int h = 0; h < width; h++)
            {
                T sum = T.Zero;
                for (int e = 0; e < experts; e++) sum += G[b * experts + e] * X[(e * batch + b) * width + h];
                Y[b * width + h] = sum;
            }
    }

    public override void MixtureBackwardExperts(View<T> g, View<T> dy, int experts, int batch, int width, View<T> dx, bool accumulate)
    {
        var G = S(g); var DY = S(dy); var DX = S(dx);
        for (int e = 0; e < experts; e++)
            for (int b = 0; b < batch; b++)
                for (int h = 0; h < width; h++)
                {
                    int at = (e * batch + b) * width + h;
                    DX[at] = (accumulate ? DX[at] : T.Zero) + G[b * experts + e] * DY[b * width + h];
                }
    }

    public override void MixtureBackwardGates(View<T> x, View<T> dy, int experts, int batch, int width, View<T> dg, bool accumulate)
    {
        var X = S(x); var DY = S(dy); var DG = S(dg);
        for (int b = 0; b < batch; b++)
            for (int e = 0; e < experts; e++)
            {
                T sum = T.Zero;
                for (int h = 0; h < width; h++) sum += DY[b * width + h] * X[(e * batch + b) * width + h];
                DG[b * experts + e] = (accumulate ? DG[b * experts + e] : T.Zero) + sum;
            }
    }

    public override void SmoothStep(View<T> x, T gamma, View<T> y)
    {
        var X = S(x); var Y = S(y);
        for (int i = 0; i < X.Length; i++) Y[i] = T.CreateChecked(DSelectReference.SmoothStep(double.CreateChecked(X[i]), double.CreateChecked(gamma)));
    }

    public override void SmoothStepBackward(View<T> x, View<T> dy, T gamma, View<T> dx, bool accumulate)
    {
        var X = S(x); var DY = S(dy); var DX = S(dx);
        for (int i = 0; i < X.Length; i++)
            DX[i] = (accumulate ? DX[i] : T.Zero) + DY[i] * T.CreateChecked(DSelectReference.SmoothStepDerivative(double.CreateChecked(X[i]), double.CreateChecked(gamma)));
    }

    private static double[] D(Span<T> values)
    {
        var d = new double[values.Length];
        for (int i = 0; i < d.Length; i++) d[i] = double.CreateChecked(values[i]);
        return d;
    }

    public override void Selectors(View<T> s, int rows, int selectors, int bits, View<T> r)
    {
        var R = S(r);
        var values = DSelectReference.Selectors(D(S(s)), rows, selectors, bits);
        for (int i = 0; i < R.Length; i++) R[i] = T.CreateChecked(values[i]);
    }

    public override void SelectorsBackward(View<T> s, View<T> dr, int rows, int selectors, int bits, View<T> ds, bool accumulate)
    {
        var DS = S(ds);
        var values = DSelectReference.SelectorsBackward(D(S(s)), D(S(dr)), rows, selectors, bits);
        for (int i = 0; i < DS.Length; i++) DS[i] = (accumulate ? DS[i] : T.Zero) + T.CreateChecked(values[i]);
    }

    public override void EntropyTerms(View<T> x, T scale, View<T> terms, View<T> derivative)
    {
        var X = S(x); var H = S(terms); var DH = S(derivative);
        for (int i = 0; i < X.Length; i++)
        {
            double v = double.CreateChecked(X[i]);
            H[i] = T.CreateChecked(DSelectReference.EntropyTerm(v));
            DH[i] = scale * T.CreateChecked(DSelectReference.EntropyDerivative(v));
        }
    }

    public override void ActivationForward(Activation activation, View<T> x, View<T> y)
    {
        var X = S(x); var Y = S(y);
        for (int i = 0; i < X.Length; i++) Y[i] = F(activation, X[i]);
    }

    public override void ActivationBackwardFromOutput(Activation activation, View<T> output, View<T> dy, View<T> dx, bool accumulate)
    {
        var Y = S(output); var DY = S(dy); var DX = S(dx);
        for (int i = 0; i < Y.Length; i++) DX[i] = (accumulate ? DX[i] : T.Zero) + DY[i] * DerivativeFromOutput(activation, Y[i]);
    }

    public override void ActivationBackwardFromInput(Activation activation, View<T> input, View<T> dy, View<T> dx, bool accumulate)
    {
        var X = S(input); var DY = S(dy); var DX = S(dx);
        for (int i = 0; i < X.Length; i++) DX[i] = (accumulate ? DX[i] : T.Zero) + DY[i] * DerivativeFromOutput(activation, F(activation, X[i]));
    }

    public override void Fill(View<T> x, T value) => S(x).Fill(value);
    public override void Copy(View<T> source, View<T> destination) { Check.SameLength(source, "source", destination, "destination"); S(source).CopyTo(S(destination)); }

    public override void Scale(View<T> x, T alpha)
    {
        var X = S(x);
        for (int i = 0; i < X.Length; i++) X[i] *= alpha;
    }

    public override void Axpy(T alpha, View<T> x, View<T> y)
    {
        var X = S(x); var Y = S(y);
        for (int i = 0; i < X.Length; i++) Y[i] += alpha * X[i];
    }

    public override void Add(View<T> a, View<T> b, View<T> result)
    {
        var A = S(a); var B = S(b); var R = S(result);
        for (int i = 0; i < A.Length; i++) R[i] = A[i] + B[i];
    }

    public override void Multiply(View<T> a, View<T> b, View<T> result, bool accumulate)
    {
        var A = S(a); var B = S(b); var R = S(result);
        for (int i = 0; i < A.Length; i++) R[i] = (accumulate ? R[i] : T.Zero) + A[i] * B[i];
    }

    public override void ScaleByScalar(View<T> x, View<T> scalar, View<T> y, bool accumulate)
    {
        var X = S(x); var Y = S(y); T s = S(scalar)[0];
        for (int i = 0; i < X.Length; i++) Y[i] = (accumulate ? Y[i] : T.Zero) + s * X[i];
    }

    public override void DivideByCount(View<T> x, View<T> counts, View<T> y)
    {
        var X = S(x); var C = S(counts); var Y = S(y); int w = X.Length / C.Length;
        for (int i = 0; i < X.Length; i++) Y[i] = C[i / w] == T.Zero ? T.Zero : X[i] / C[i / w];
    }

    public override void ColumnSums(View<T> x, int rows, int cols, View<T> result, bool accumulate)
    {
        var X = S(x); var R = S(result);
        for (int j = 0; j < cols; j++)
        {
            T sum = T.Zero;
            for (int i = 0; i < rows; i++) sum += X[i * cols + j];
            R[j] = (accumulate ? R[j] : T.Zero) + sum;
        }
    }

    public override void Sum(View<T> x, View<T> result, T scale)
    {
        T sum = T.Zero;
        foreach (var v in S(x)) sum += v;
        S(result)[0] = scale * sum;
    }

    public override void Dot(View<T> a, View<T> b, View<T> result)
    {
        var A = S(a); var B = S(b);
        T sum = T.Zero;
        for (int i = 0; i < A.Length; i++) sum += A[i] * B[i];
        S(result)[0] = sum;
    }

    public override void MseForward(View<T> prediction, View<T> target, View<T> loss)
    {
        var P = S(prediction); var Tt = S(target);
        T sum = T.Zero;
        for (int i = 0; i < P.Length; i++) sum += (P[i] - Tt[i]) * (P[i] - Tt[i]);
        S(loss)[0] = sum / T.CreateChecked(P.Length);
    }

    public override void MseBackward(View<T> prediction, View<T> target, View<T> upstream, View<T> dPrediction, bool accumulate)
    {
        var P = S(prediction); var Tt = S(target); var D = S(dPrediction); T up = S(upstream)[0];
        T n = T.CreateChecked(P.Length), two = T.CreateChecked(2);
        for (int i = 0; i < P.Length; i++) D[i] = (accumulate ? D[i] : T.Zero) + up * two * (P[i] - Tt[i]) / n;
    }

    /// <summary>p = softmax(z) by the max shift; returns the max m and S = Σ e^{z − m}.</summary>
    private static (T Max, T Sum) Softmax(ReadOnlySpan<T> z, Span<T> p)
    {
        T max = z[0];
        foreach (var v in z) max = T.Max(max, v);
        T sum = T.Zero;
        foreach (var v in z) sum += T.Exp(v - max);
        for (int j = 0; j < z.Length; j++) p[j] = T.Exp(z[j] - max) / sum;
        return (max, sum);
    }

    public override void SoftmaxCrossEntropyForward(View<T> logits, View<int> labels, int batch, int classes, View<T> probabilities, View<T> loss)
    {
        var Z = S(logits); var Y = S(labels); var P = S(probabilities);
        T total = T.Zero;
        for (int i = 0; i < batch; i++)
        {
            var z = Z.Slice(i * classes, classes);
            var (max, sum) = Softmax(z, P.Slice(i * classes, classes));
            total += T.Log(sum) - (z[Y[i]] - max);
        }
        S(loss)[0] = total / T.CreateChecked(batch);
    }

    public override void SoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, int batch, int classes, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        var P = S(probabilities); var Y = S(labels); var D = S(dLogits); T up = S(upstream)[0];
        T b = T.CreateChecked(batch);
        for (int i = 0; i < batch; i++)
            for (int j = 0; j < classes; j++)
            {
                T g = up * (P[i * classes + j] - (Y[i] == j ? T.One : T.Zero)) / b;
                D[i * classes + j] = (accumulate ? D[i * classes + j] : T.Zero) + g;
            }
    }

    public override void CountCorrect(View<T> logits, View<int> labels, int batch, int classes, View<T> count)
    {
        var Z = S(logits); var Y = S(labels);
        int correct = 0;
        for (int i = 0; i < batch; i++)
        {
            int best = 0;
            for (int j = 1; j < classes; j++) if (Z[i * classes + j] > Z[i * classes + best]) best = j;
            if (best == Y[i]) correct++;
        }
        S(count)[0] = T.CreateChecked(correct);
    }

    public override void MaskedMseForward(View<T> prediction, View<T> target, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default)
    {
        var P = S(prediction); var Tt = S(target);
        if (!rowWeights.IsEmpty)
        {
            var W = S(rowWeights); int columns = P.Length / W.Length, labelled = 0;
            T total = T.Zero, d = T.Zero;
            for (int i = 0; i < P.Length; i++)
                if (!T.IsNaN(Tt[i])) { total += W[i / columns] * (P[i] - Tt[i]) * (P[i] - Tt[i]); d += W[i / columns]; labelled++; }
            S(count)[0] = T.CreateChecked(labelled);
            S(weightSum)[0] = d;
            S(loss)[0] = d > T.Zero ? total / d : T.Zero;
            return;
        }
        T sum = T.Zero; int n = 0;
        for (int i = 0; i < P.Length; i++)
            if (!T.IsNaN(Tt[i])) { sum += (P[i] - Tt[i]) * (P[i] - Tt[i]); n++; }
        S(count)[0] = T.CreateChecked(n);
        S(loss)[0] = sum / T.CreateChecked(Math.Max(n, 1));
    }

    public override void MaskedMseBackward(View<T> prediction, View<T> target, View<T> count, View<T> upstream, View<T> dPrediction, bool accumulate,
        View<T> rowWeights = default)
    {
        var P = S(prediction); var Tt = S(target); var D = S(dPrediction); T up = S(upstream)[0];
        if (!rowWeights.IsEmpty)
        {
            var W = S(rowWeights); int columns = P.Length / W.Length; T sum = S(count)[0];
            for (int i = 0; i < P.Length; i++)
                D[i] = (accumulate ? D[i] : T.Zero) + (T.IsNaN(Tt[i]) || !(sum > T.Zero) || W[i / columns] == T.Zero ? T.Zero
                    : up * T.CreateChecked(2) * W[i / columns] * (P[i] - Tt[i]) / sum);
            return;
        }
        T n = T.Max(S(count)[0], T.One), two = T.CreateChecked(2);
        for (int i = 0; i < P.Length; i++)
            D[i] = (accumulate ? D[i] : T.Zero) + (T.IsNaN(Tt[i]) ? T.Zero : up * two * (P[i] - Tt[i]) / n);
    }

    public override void MaskedSoftmaxCrossEntropyForward(View<T> logits, View<int> labels, int batch, int classes, View<T> probabilities, View<T> loss, View<T> count)
    {
        var Z = S(logits); var Y = S(labels); var P = S(probabilities);
        T total = T.Zero; int n = 0;
        for (int i = 0; i < batch; i++)
        {
            var z = Z.Slice(i * classes, classes);
            var (max, sum) = Softmax(z, P.Slice(i * classes, classes));
            if (Y[i] >= 0) { total += T.Log(sum) - (z[Y[i]] - max); n++; }
        }
        S(count)[0] = T.CreateChecked(n);
        S(loss)[0] = total / T.CreateChecked(Math.Max(n, 1));
    }

    public override void MaskedSoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, int batch, int classes, View<T> count, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        var P = S(probabilities); var Y = S(labels); var D = S(dLogits); T up = S(upstream)[0];
        T n = T.Max(S(count)[0], T.One);
        for (int i = 0; i < batch; i++)
            for (int j = 0; j < classes; j++)
            {
                T g = Y[i] < 0 ? T.Zero : up * (P[i * classes + j] - (j == Y[i] ? T.One : T.Zero)) / n;
                D[i * classes + j] = (accumulate ? D[i * classes + j] : T.Zero) + g;
            }
    }

    public override void WeightedSoftmaxCrossEntropyForward(View<T> logits, View<int> labels, View<T> rowWeights, View<T> classWeights, T smoothing,
        int batch, int classes, View<T> probabilities, View<T> loss, View<T> count, View<T> weightSum)
    {
        var Z = S(logits); var Y = S(labels); var P = S(probabilities); var R = S(rowWeights); var W = S(classWeights);
        T total = T.Zero, d = T.Zero, k = T.CreateChecked(classes); int n = 0;
        for (int i = 0; i < batch; i++)
        {
            var z = Z.Slice(i * classes, classes);
            var (max, sum) = Softmax(z, P.Slice(i * classes, classes));
            if (Y[i] < 0) continue;
            n++;
            T r = R.IsEmpty ? T.One : R[i], wy = W.IsEmpty ? T.One : W[Y[i]];
            d += r * wy;
            for (int j = 0; j < classes; j++)                 // −Σ_j q_j log p_j with q_j = (1 − ε)w_y[j = y] + (ε/K)w_j
            {
                T q = (j == Y[i] ? (T.One - smoothing) * wy : T.Zero) + smoothing / k * (W.IsEmpty ? T.One : W[j]);
                total -= r * q * (z[j] - max - T.Log(sum));
            }
        }
        S(count)[0] = T.CreateChecked(n);
        S(weightSum)[0] = d;
        S(loss)[0] = d > T.Zero ? total / d : T.Zero;
    }

    public override void WeightedSoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> rowWeights, View<T> classWeights, T smoothing,
        int batch, int classes, View<T> weightSum, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        var P = S(probabilities); var Y = S(labels); var D = S(dLogits); var R = S(rowWeights); var W = S(classWeights);
        T up = S(upstream)[0], d = S(weightSum)[0], k = T.CreateChecked(classes);
        for (int i = 0; i < batch; i++)
            for (int j = 0; j < classes; j++)
            {
                T g = T.Zero;
                if (Y[i] >= 0 && d > T.Zero)
                    for (int l = 0; l < classes; l++)           // Σ_l q_l ∂(−log p_l)/∂z_j = Σ_l q_l (p_j − [l = j])
                    {
                        T q = (l == Y[i] ? (T.One - smoothing) * (W.IsEmpty ? T.One : W[Y[i]]) : T.Zero) + smoothing / k * (W.IsEmpty ? T.One : W[l]);
                        g += up * (R.IsEmpty ? T.One : R[i]) * q * (P[i * classes + j] - (l == j ? T.One : T.Zero)) / d;
                    }
                D[i * classes + j] = (accumulate ? D[i * classes + j] : T.Zero) + g;
            }
    }

    public override void PositiveWeightedBinaryCrossEntropyForward(View<T> logits, View<int> labels, View<T> rowWeights, View<T> positiveWeights,
        T smoothing, int columns, View<T> probabilities, View<T> loss, View<T> count, View<T> weightSum)
    {
        var Z = S(logits); var Y = S(labels); var P = S(probabilities); var R = S(rowWeights); var W = S(positiveWeights);
        T total = T.Zero, d = T.Zero; int n = 0;
        for (int i = 0; i < Z.Length; i++)
        {
            T z = Z[i], sigma = T.One / (T.One + T.Exp(-z));
            P[i] = sigma;
            if (Y[i] < 0) continue;
            T r = R.IsEmpty ? T.One : R[i / columns];
            n++;
            d += r;                                        // −log σ(z) = softplus(−z), −log(1 − σ(z)) = softplus(z)
            T softplus(T x) => T.Max(x, T.Zero) + T.Log(T.One + T.Exp(-T.Abs(x)));
            T t = T.CreateChecked(Y[i]) * (T.One - smoothing) + smoothing / T.CreateChecked(2);   // the smoothed target
            total += r * (W[i % columns] * t * softplus(-z) + (T.One - t) * softplus(z));
        }
        S(count)[0] = T.CreateChecked(n);
        S(weightSum)[0] = d;
        S(loss)[0] = d > T.Zero ? total / d : T.Zero;
    }

    public override void PositiveWeightedBinaryCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> rowWeights, View<T> positiveWeights,
        T smoothing, int columns, View<T> weightSum, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        var P = S(probabilities); var Y = S(labels); var D = S(dLogits); var R = S(rowWeights); var W = S(positiveWeights);
        T up = S(upstream)[0], d = S(weightSum)[0];
        for (int i = 0; i < P.Length; i++)
        {
            T g = T.Zero;   // ∂/∂z of −p·t·log σ(z) is −p·t(1 − σ); of −(1 − t)·log(1 − σ(z)) it is (1 − t)σ
            T t = T.CreateChecked(Math.Max(Y[i], 0)) * (T.One - smoothing) + smoothing / T.CreateChecked(2);
            if (Y[i] >= 0 && d > T.Zero) g = up * (R.IsEmpty ? T.One : R[i / columns]) * (-W[i % columns] * t * (T.One - P[i]) + (T.One - t) * P[i]) / d;
            D[i] = (accumulate ? D[i] : T.Zero) + g;
        }
    }

    public override void MaskedBinaryCrossEntropyForward(View<T> logits, View<int> labels, View<T> probabilities, View<T> loss, View<T> count)
    {
        var Z = S(logits); var Y = S(labels); var P = S(probabilities);
        T total = T.Zero; int n = 0;
        for (int i = 0; i < Z.Length; i++)
        {
            T z = Z[i];
            if (Y[i] >= 0) { total += T.Max(z, T.Zero) - z * T.CreateChecked(Y[i]) + T.Log(T.One + T.Exp(-T.Abs(z))); n++; }
            P[i] = T.One / (T.One + T.Exp(-z));
        }
        S(count)[0] = T.CreateChecked(n);
        S(loss)[0] = total / T.CreateChecked(Math.Max(n, 1));
    }

    public override void MaskedBinaryCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> count, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        var P = S(probabilities); var Y = S(labels); var D = S(dLogits); T up = S(upstream)[0];
        T n = T.Max(S(count)[0], T.One);
        for (int i = 0; i < P.Length; i++)
            D[i] = (accumulate ? D[i] : T.Zero) + (Y[i] < 0 ? T.Zero : up * (P[i] - T.CreateChecked(Y[i])) / n);
    }

    public override void MaskedProbabilityCrossEntropyForward(View<T> probabilities, View<int> labels, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default)
    {
        var P = S(probabilities); var Y = S(labels);
        var W = rowWeights.IsEmpty ? default : S(rowWeights);
        int columns = rowWeights.IsEmpty ? 1 : P.Length / W.Length;
        T total = T.Zero, d = T.Zero, floor = T.CreateChecked(-100); int n = 0;
        for (int i = 0; i < P.Length; i++)
        {
            if (Y[i] < 0) continue;
            T y = T.CreateChecked(Y[i]), w = rowWeights.IsEmpty ? T.One : W[i / columns];
            if (w != T.Zero) total -= w * (y * T.Max(T.Log(P[i]), floor) + (T.One - y) * T.Max(T.Log(T.One - P[i]), floor));
            d += w;
            n++;
        }
        S(count)[0] = T.CreateChecked(n);
        if (rowWeights.IsEmpty) { S(loss)[0] = total / T.CreateChecked(Math.Max(n, 1)); return; }
        S(weightSum)[0] = d;
        S(loss)[0] = d > T.Zero ? total / d : T.Zero;
    }

    public override void MaskedProbabilityCrossEntropyBackward(View<T> probabilities, View<int> labels, View<T> count, View<T> upstream, View<T> dProbabilities, bool accumulate,
        View<T> rowWeights = default)
    {
        var P = S(probabilities); var Y = S(labels); var D = S(dProbabilities); T up = S(upstream)[0];
        var W = rowWeights.IsEmpty ? default : S(rowWeights);
        int columns = rowWeights.IsEmpty ? 1 : P.Length / W.Length;
        T n = rowWeights.IsEmpty ? T.Max(S(count)[0], T.One) : S(count)[0], eps = T.CreateChecked((double)1e-12f);
        for (int i = 0; i < P.Length; i++)
        {
            T w = rowWeights.IsEmpty ? T.One : W[i / columns];
            D[i] = (accumulate ? D[i] : T.Zero) + (Y[i] < 0 || w == T.Zero || !(n > T.Zero) ? T.Zero : up * w * (P[i] - T.CreateChecked(Y[i])) / (n * T.Max(P[i] * (T.One - P[i]), eps)));
        }
    }

    public override void MaskedSmoothL1Forward(View<T> prediction, View<T> target, T beta, T scale, View<T> loss, View<T> count,
        View<T> rowWeights = default, View<T> weightSum = default)
    {
        var P = S(prediction); var Tt = S(target);
        var W = rowWeights.IsEmpty ? default : S(rowWeights);
        int columns = rowWeights.IsEmpty ? 1 : P.Length / W.Length;
        T sum = T.Zero, d = T.Zero; int n = 0, two = 2;
        for (int i = 0; i < P.Length; i++)
        {
            if (T.IsNaN(Tt[i])) continue;
            T w = rowWeights.IsEmpty ? T.One : W[i / columns];
            T a = T.Abs(P[i] - Tt[i]);
            if (w != T.Zero) sum += w * (a < beta ? a * a / (T.CreateChecked(two) * beta) : a - beta / T.CreateChecked(two));
            d += w;
            n++;
        }
        S(count)[0] = T.CreateChecked(n);
        if (rowWeights.IsEmpty) { S(loss)[0] = scale * sum / T.CreateChecked(Math.Max(n, 1)); return; }
        S(weightSum)[0] = d;
        S(loss)[0] = d > T.Zero ? scale * sum / d : T.Zero;
    }

    public override void MaskedSmoothL1Backward(View<T> prediction, View<T> target, T beta, T scale, View<T> count, View<T> upstream, View<T> dPrediction, bool accumulate,
        View<T> rowWeights = default)
    {
        var P = S(prediction); var Tt = S(target); var D = S(dPrediction); T up = S(upstream)[0];
        var W = rowWeights.IsEmpty ? default : S(rowWeights);
        int columns = rowWeights.IsEmpty ? 1 : P.Length / W.Length;
        T n = rowWeights.IsEmpty ? T.Max(S(count)[0], T.One) : S(count)[0];   // weighted: D (0: no gradient)
        for (int i = 0; i < P.Length; i++)
        {
            T g = T.Zero;
            T w = rowWeights.IsEmpty ? T.One : W[i / columns];
            if (!T.IsNaN(Tt[i]) && n > T.Zero && w != T.Zero)
            {
                T d = P[i] - Tt[i];
                g = up * scale * w * (T.Abs(d) < beta ? d / beta : T.CreateChecked(T.Sign(d))) / n;
            }
            D[i] = (accumulate ? D[i] : T.Zero) + g;
        }
    }

    public override void CountCorrectBinary(View<T> logits, View<int> labels, View<T> count)
    {
        var Z = S(logits); var Y = S(labels); int correct = 0;
        for (int i = 0; i < Z.Length; i++) if (Y[i] >= 0 && (Z[i] > T.Zero ? 1 : 0) == Y[i]) correct++;
        S(count)[0] = T.CreateChecked(correct);
    }

    public override void MaskedDifference(View<T> prediction, View<T> target, View<T> difference, View<T> mask)
    {
        var P = S(prediction); var Tt = S(target); var D = S(difference); var M = S(mask);
        for (int i = 0; i < P.Length; i++)
        {
            bool present = !T.IsNaN(Tt[i]);
            D[i] = present ? P[i] - Tt[i] : T.Zero;
            M[i] = present ? T.One : T.Zero;
        }
    }

    public override void WeightedCountCorrect(View<T> logits, View<int> labels, View<T> rowWeights, int batch, int classes, View<T> sums) => throw new NotSupportedException();
    public override void WeightedCountCorrectBinary(View<T> logits, View<int> labels, View<T> rowWeights, View<T> sums) => throw new NotSupportedException();
    public override void GateStepControl(View<T> control, View<T> labelled, View<T> gated) => throw new NotSupportedException();
    public override void CopyIfSkipped(View<T> control, View<T> source, View<T> destination) => throw new NotSupportedException();
    public override void CopyIfSkippedFloat64(View<T> control, View<double> source, View<double> destination) => throw new NotSupportedException();
    public override void CopyFloat64(View<double> source, View<double> destination) => throw new NotSupportedException();
    public override void SegmentedSumOfSquares(View<T> x, View<int> segmentOffsets, View<T> result) => throw new NotSupportedException();
    public override void UpdateStepControl(View<T> sumOfSquares, T maxNorm, View<T> control) => throw new NotSupportedException();
    public override void AdamStep(View<T> parameters, View<T> gradients, View<T> m, View<T> v, View<T> vMax, AdamSettings settings, View<T> control) => throw new NotSupportedException();
    public override void SgdStep(View<T> parameters, View<T> gradients, View<T> momentumBuffer, SgdSettings settings, View<T> control) => throw new NotSupportedException();
    public override void RmsPropStep(View<T> parameters, View<T> gradients, View<T> squareAverage, View<T> gradientAverage, View<T> momentumBuffer, RmsPropSettings settings, View<T> control) => throw new NotSupportedException();
    public override void AdagradStep(View<T> parameters, View<T> gradients, View<T> stateSum, AdagradSettings settings, View<T> control) => throw new NotSupportedException();
    public override void Gram(View<T> vectors, int count, int length, View<T> gram) => throw new NotSupportedException();
    public override void LinearCombination(View<T> vectors, int count, int length, View<T> coefficients, View<T> output, bool accumulate) => throw new NotSupportedException();
    public override void AdvanceStep(View<T> control) => throw new NotSupportedException();
    public override void CombinationCoefficients(CombinationSettings settings, View<T> gram, int count, View<T> weights, int seed, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();
    public override void GradientDiagnostics(View<T> gram, int count, View<T> cosines, View<int> conflicts, View<int> present) => throw new NotSupportedException();
    public override void LossBalancedWeights(View<T> losses, T minLoss, View<T> weights) => throw new NotSupportedException();
    public override void GeometricMeanWeights(View<T> losses, T minLoss, View<T> weights) => throw new NotSupportedException();
    public override void RandomSoftmaxWeights(ulong seed, View<double> steps, View<T> weights) => throw new NotSupportedException();
    public override void StchWeights(View<T> losses, T mu, int warmupEpochs, View<T> state, View<T> weights, bool endOfEpoch) => throw new NotSupportedException();
    public override void FamoWeights(View<T> losses, FamoParameters parameters, View<T> state, View<T> weights, int phase) => throw new NotSupportedException();
    public override void Dropout(View<T> input, DropoutMask mask, View<T> output, bool accumulate)
    {
        var x = S(input); var y = S(output);
        T scale = T.One / (T.One - T.CreateChecked(mask.Probability));
        for (int i = 0; i < x.Length; i++)
        {
            T v = mask.Keeps(i) ? x[i] * scale : T.Zero;
            y[i] = accumulate ? y[i] + v : v;
        }
    }
    public override void LayerNormForward(View<T> x, int rows, int cols, int groups, View<T> gamma, View<T> beta, T epsilon, View<T> y, View<T> mean, View<T> rstd)
    {
        var xs = S(x); var ys = S(y); var gs = S(gamma); var bs = S(beta); var ms = S(mean); var rs = S(rstd);
        for (int r = 0; r < rows; r++)
        {
            int g = r / (rows / groups);
            T mu = T.Zero, v = T.Zero;
            for (int j = 0; j < cols; j++) mu += xs[r * cols + j];
            mu /= T.CreateChecked(cols);
            for (int j = 0; j < cols; j++) v += (xs[r * cols + j] - mu) * (xs[r * cols + j] - mu);
            T s = T.One / T.Sqrt(v / T.CreateChecked(cols) + epsilon);
            for (int j = 0; j < cols; j++) ys[r * cols + j] = gs[g * cols + j] * (xs[r * cols + j] - mu) * s + bs[g * cols + j];
            ms[r] = mu;
            rs[r] = s;
        }
    }
    public override void LayerNormBackwardInput(View<T> x, View<T> mean, View<T> rstd, View<T> gamma, View<T> dy, int rows, int cols, int groups, View<T> scratch, View<T> dx, bool accumulate)
    {
        var xs = S(x); var ms = S(mean); var rs = S(rstd); var gs = S(gamma); var dys = S(dy); var dxs = S(dx);
        T n = T.CreateChecked(cols);
        for (int r = 0; r < rows; r++)
        {
            int g = r / (rows / groups);
            T a = T.Zero, b = T.Zero;
            for (int j = 0; j < cols; j++)
            {
                T gj = dys[r * cols + j] * gs[g * cols + j];
                a += gj;
                b += gj * (xs[r * cols + j] - ms[r]) * rs[r];
            }
            for (int j = 0; j < cols; j++)
            {
                T d = rs[r] * (dys[r * cols + j] * gs[g * cols + j] - a / n - (xs[r * cols + j] - ms[r]) * rs[r] * b / n);
                dxs[r * cols + j] = accumulate ? dxs[r * cols + j] + d : d;
            }
        }
    }
    public override void LayerNormBackwardParameters(View<T> x, View<T> mean, View<T> rstd, View<T> dy, int rows, int cols, int groups, View<T> scratch, View<T> dGamma, bool accumulateGamma, View<T> dBeta, bool accumulateBeta)
    {
        var xs = S(x); var ms = S(mean); var rs = S(rstd); var dys = S(dy); var dgs = S(dGamma); var dbs = S(dBeta);
        if (!dGamma.IsEmpty && !accumulateGamma) dgs.Clear();
        if (!dBeta.IsEmpty && !accumulateBeta) dbs.Clear();
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < cols; j++)
            {
                int at = r / (rows / groups) * cols + j;
                if (!dGamma.IsEmpty) dgs[at] += dys[r * cols + j] * (xs[r * cols + j] - ms[r]) * rs[r];
                if (!dBeta.IsEmpty) dbs[at] += dys[r * cols + j];
            }
    }
    public override void GradDrop(View<T> vectors, int count, int length, View<T> weights, T leak, ulong seed, View<double> steps, View<T> output) => throw new NotSupportedException();
    public override void UncertaintyWeights(View<T> losses, View<T> logVariances, View<T> weights, View<T> logVarianceGradients, bool accumulate, View<T> totalLoss, int sign = -1) => throw new NotSupportedException();
    public override void ImtlCoefficients(View<T> gram, int count, View<T> weights, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();
    public override void AlignedMtlCoefficients(View<T> gram, int count, View<T> weights, int scale, int maxSweeps, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();
    public override void FairGradCoefficients(View<T> gram, int count, View<T> weights, double alpha, int maxIterations, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();
    public override void NashMtlCoefficients(View<T> gram, int count, View<T> weights, int maxIterations, double maxNorm, bool update, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();
    public override void UpgradCoefficients(View<T> gram, int count, View<T> weights, double regularization, int maxIterations, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();
    public override void MgdaNormalizedWeights(View<T> gram, int count, View<T> losses, View<T> weights, MgdaNormalization normalization, View<T> normalized) => throw new NotSupportedException();
    public override void ExcessRisks(View<T> taskGradients, int tasks, View<T> squaredSums, View<T> risks, View<T> saved = default) => throw new NotSupportedException();
    public override void ExcessMtlStep(View<T> risks, View<T> state, double stepSize, View<T> weights) => throw new NotSupportedException();
    public override void GradNormStep(View<T> squaredNorms, View<T> losses, View<T> state, GradNormSettings settings) => throw new NotSupportedException();
    public override void MocoScales(View<T> gram, View<T> losses, View<T> weights, MocoParameters parameters, View<T> state, View<T> scales) => throw new NotSupportedException();
    public override void MocoTrack(View<T> tracked, View<T> vectors, int count, int length, View<T> scales, View<T> gram, View<T> saved = default) => throw new NotSupportedException();
    public override void MocoLambda(View<T> gram, int count, MocoParameters parameters, View<T> state, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();
    public override void LogLossWeights(View<T> losses, double epsilon, View<T> weights) => throw new NotSupportedException();
    public override void DbMtlAverage(View<T> vectors, int count, int length, View<T> weights, View<T> steps, double beta, double betaSigma, View<T> average, View<T> squaredNorms, View<T> saved = default) => throw new NotSupportedException();
    public override void DbMtlCoefficients(View<T> squaredNorms, int count, View<T> steps, View<T> coefficients) => throw new NotSupportedException();
    public override void GradVacCoefficients(View<T> gram, int count, View<T> weights, double beta, int seed, View<double> workspace, View<T> coefficients) => throw new NotSupportedException();

    public override void EmbeddingGather(View<T> x, View<T> table, EmbeddingLayout l, View<T> y)
    {
        var xs = S(x); var ts = S(table); var ys = S(y);
        for (int r = 0; r < l.Rows; r++)
            for (int j = 0; j < l.Dim; j++)
                ys[r * l.OutputCols + l.OutputOffset + j] = ts[EmbeddingLayout.Row(double.CreateChecked(xs[r * l.InputCols + l.Column]), l.Count) * l.Dim + j];
    }

    public override void EmbeddingScatterAdd(View<T> x, View<T> dy, EmbeddingLayout l, View<T> dTable, bool accumulate)
    {
        var xs = S(x); var dys = S(dy); var ds = S(dTable);
        if (!accumulate) ds.Clear();
        for (int r = 0; r < l.Rows; r++)
            for (int j = 0; j < l.Dim; j++)
                ds[EmbeddingLayout.Row(double.CreateChecked(xs[r * l.InputCols + l.Column]), l.Count) * l.Dim + j] += dys[r * l.OutputCols + l.OutputOffset + j];
    }

    public override void CopyColumns(View<T> x, int rows, int xCols, int width, View<T> y, int yCols)
    {
        var xs = S(x); var ys = S(y);
        for (int r = 0; r < rows; r++)
            for (int j = 0; j < width; j++) ys[r * yCols + j] = xs[r * xCols + j];
    }

    public override void CopyColumnBlock(View<T> x, View<T> y, ColumnBlock b)
    {
        var xs = S(x); var ys = S(y);
        for (int r = 0; r < b.Rows; r++)
            for (int j = 0; j < b.Width; j++)
            {
                int to = r * b.YCols + b.YOffset + j;
                ys[to] = (b.Accumulate ? ys[to] : T.Zero) + xs[r * b.XCols + b.XOffset + j];
            }
    }
}
