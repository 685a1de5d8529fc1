using System.Numerics.Tensors;

namespace Engine.Kernels.Cpu;

/// <summary>
/// Softmax cross-entropy with class-index labels, and the accuracy count, on the SIMD CPU path
/// (maths: docs/maths.md §9, "Softmax cross-entropy").
/// Each row is shifted by its maximum before exponentiating (TensorPrimitives.SoftMax does not do
/// this and overflows for logits above ~88 in float32). Row losses are added in double.
/// Labels are checked on the calling thread before any work (cheap: one pass over B ints).
/// </summary>
public sealed partial class CpuBackend<T>
{
    /// <inheritdoc/>
    public override unsafe void SoftmaxCrossEntropyForward(View<T> logits, View<int> labels, int batch, int classes, View<T> probabilities, View<T> loss)
    {
        CheckClassification(logits, nameof(logits), labels, batch, classes);
        KernelChecks.Unary(this, logits, nameof(logits), probabilities, nameof(probabilities));
        KernelChecks.Scalar(this, loss, nameof(loss));
        var job = new SoftmaxCrossEntropyJob { Logits = logits.Pointer(), Labels = labels.Pointer(), Probabilities = probabilities.Pointer(), Classes = classes };
        double total = RunChunks(job, batch, costPerItem: classes);
        loss.Span()[0] = FromDouble(total / batch);
    }

    /// <inheritdoc/>
    public override unsafe void SoftmaxCrossEntropyBackward(View<T> probabilities, View<int> labels, int batch, int classes, View<T> upstream, View<T> dLogits, bool accumulate)
    {
        CheckClassification(probabilities, nameof(probabilities), labels, batch, classes);
        KernelChecks.Scalar(this, upstream, nameof(upstream));
        KernelChecks.Unary(this, probabilities, nameof(probabilities), dLogits, nameof(dLogits));
        // ∂L/∂z_ij = (p_ij − 1[j = yᵢ])/B, times the upstream gradient: c = u/B.
        T c = FromDouble(ToDouble(upstream.Span()[0]) / batch);
        T* p = probabilities.Pointer(), d = dLogits.Pointer();
        var op = accumulate ? LinearOp.MultiplyScalarAdd : LinearOp.Scale;
        RunChunks(new LinearJob { Op = op, A = p, Result = d, S = c }, batch * classes); // d (+)= c·p
        var y = labels.Span();
        for (int i = 0; i < batch; i++) d[(long)i * classes + y[i]] -= c;            // d[i, yᵢ] −= c
    }

    /// <inheritdoc/>
    public override unsafe void CountCorrect(View<T> logits, View<int> labels, int batch, int classes, View<T> count)
    {
        KernelChecks.Classification(this, logits, nameof(logits), labels, batch, classes);
        MaskedLossChecks.LabelsInRange(labels.Span(), classes); // a negative label (no label) is never correct
        KernelChecks.Scalar(this, count, nameof(count));
        var job = new CountCorrectJob { Logits = logits.Pointer(), Labels = labels.Pointer(), Classes = classes };
        count.Span()[0] = FromDouble(RunChunks(job, batch, costPerItem: classes));
    }

    /// <summary>Shapes of a batch×classes matrix and its B labels, and every label in [0, classes).</summary>
    private void CheckClassification(View<T> matrix, string matrixName, View<int> labels, int batch, int classes)
    {
        KernelChecks.Classification(this, matrix, matrixName, labels, batch, classes);
        var y = labels.Span();
        for (int i = 0; i < y.Length; i++)
            if ((uint)y[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(nameof(labels), y[i], $"labels[{i}] = {y[i]} is not a class index in [0, {classes}).");
    }

    /// <summary>For rows [start, start + count): pᵢ = softmax(zᵢ − mᵢ) saved, returns Σᵢ (log Σⱼ e^{z_ij − mᵢ} − (z_{i,yᵢ} − mᵢ)).</summary>
    private unsafe struct SoftmaxCrossEntropyJob : IChunkJob
    {
        public T* Logits, Probabilities;
        public int* Labels;
        public int Classes;

        public readonly double Run(int start, int count)
        {
            double total = 0;
            for (int i = start; i < start + count; i++)
            {
                var z = new ReadOnlySpan<T>(Logits + (long)i * Classes, Classes);
                var p = new Span<T>(Probabilities + (long)i * Classes, Classes);
                total += SoftmaxRow(z, p, Labels[i]);
            }
            return total;
        }
    }

    /// <summary>One row of softmax cross-entropy: p = softmax(z − max z) written (p may be z), and the row's loss
    /// log Σⱼ e^{zⱼ − m} − (z_label − m) returned, or 0 when <paramref name="label"/> is negative (no label).</summary>
    internal static double SoftmaxRow(ReadOnlySpan<T> z, Span<T> p, int label)
    {
        T max = TensorPrimitives.Max(z);
        T labelLogit = label >= 0 ? z[label] : T.Zero; // read before p (which may be z) is overwritten
        TensorPrimitives.Subtract(z, max, p);          // z − m ≤ 0, so every exponential is in (0, 1]
        TensorPrimitives.Exp(p, p);
        T sum = TensorPrimitives.Sum<T>(p);            // ≥ 1: the maximum contributes e⁰
        TensorPrimitives.Divide(p, sum, p);
        return label >= 0 ? Math.Log(ToDouble(sum)) - (ToDouble(labelLogit) - ToDouble(max)) : 0;
    }

    /// <summary>Counts rows of [start, start + count) whose first largest logit is at the label.</summary>
    private unsafe struct CountCorrectJob : IChunkJob
    {
        public T* Logits;
        public int* Labels;
        public int Classes;

        public readonly double Run(int start, int count)
        {
            int correct = 0;
            for (int i = start; i < start + count; i++)
            {
                T* z = Logits + (long)i * Classes;
                int best = 0;
                for (int j = 1; j < Classes; j++)
                    if (z[j] > z[best]) best = j; // strict: ties keep the lowest index (as on the GPU path)
                if (best == Labels[i]) correct++;
            }
            return correct;
        }
    }
}
