using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>What a gradient check found.</summary>
/// <param name="Passed">True when every element satisfied |analytic − numeric| ≤ atol + rtol·|numeric|.</param>
/// <param name="Checked">Number of scalar inputs perturbed.</param>
/// <param name="MaxAbsoluteError">Largest |analytic − numeric|.</param>
/// <param name="MaxAbsoluteAt">Where it occurred, e.g. <c>trunk.0.weight[2, 1]</c>.</param>
/// <param name="MaxRelativeError">Largest |analytic − numeric| / max(|analytic|, |numeric|) (0 where both are 0).</param>
/// <param name="MaxRelativeAt">Where it occurred.</param>
/// <param name="WorstAt">The element furthest beyond its tolerance (or closest to it), with both values.</param>
public sealed record GradCheckResult(bool Passed, int Checked, double MaxAbsoluteError, string MaxAbsoluteAt,
    double MaxRelativeError, string MaxRelativeAt, string WorstAt)
{
    /// <inheritdoc/>
    public override string ToString() =>
        $"{(Passed ? "passed" : "FAILED")} over {Checked} elements: max abs error {MaxAbsoluteError:E2} at {MaxAbsoluteAt}, " +
        $"max rel error {MaxRelativeError:E2} at {MaxRelativeAt}; worst {WorstAt}";
}

/// <summary>
/// The role of <c>torch.autograd.gradcheck</c>: compares the tape's analytic gradients with central
/// differences <c>(f(x + h) − f(x − h)) / 2h</c>, one scalar input at a time, in float64 (in float32 the
/// rounding error ε/h of a difference quotient swamps the answer; see docs/maths.md for the step size).
/// For a non-scalar output y the check is of the vector–Jacobian product with a fixed random cotangent v:
/// f = v·y, so every entry of the Jacobian contributes.
/// </summary>
public static class GradCheck
{
    /// <summary>
    /// Checks the gradient of <paramref name="function"/> with respect to every element of every tensor in
    /// <paramref name="inputs"/> (leaves with gradient buffers: parameters, or inputs built with
    /// <see cref="Tensor{T}(View{T}, int, int, View{T}, string?)"/>). The function must record its forward on
    /// the tape it is given, be deterministic, and depend on the inputs only through their device values.
    /// </summary>
    /// <param name="backend">A float64 backend.</param>
    /// <param name="function">Builds the forward on a freshly reset tape; returns the output.</param>
    /// <param name="inputs">The tensors to differentiate with respect to.</param>
    /// <param name="step">The finite-difference step h (default 1e-6, as torch's gradcheck).</param>
    /// <param name="absoluteTolerance">atol (default 1e-5, as torch's gradcheck).</param>
    /// <param name="relativeTolerance">rtol (default 1e-3, as torch's gradcheck).</param>
    /// <param name="seed">Seed of the random cotangent used for non-scalar outputs.</param>
    public static GradCheckResult Run(Backend<double> backend, Func<Tape<double>, Tensor<double>> function,
        IReadOnlyList<Tensor<double>> inputs, double step = 1e-6, double absoluteTolerance = 1e-5,
        double relativeTolerance = 1e-3, int seed = 12345)
    {
        ArgumentNullException.ThrowIfNull(backend);
        ArgumentNullException.ThrowIfNull(function);
        ArgumentNullException.ThrowIfNull(inputs);
        if (!(step > 0)) throw new ArgumentOutOfRangeException(nameof(step), step, "The step must be positive.");
        foreach (var input in inputs)
            if (!input.RequiresGrad || input.Grad.IsEmpty || !input.IsLeaf)
                throw new ArgumentException($"{input} must be a leaf with a gradient buffer.", nameof(inputs));

        using var tape = new Tape<double>(backend);

        // 1. Analytic: one backward pass, seeded with the cotangent v (1 for a scalar output).
        foreach (var input in inputs) backend.Fill(input.Grad, 0);
        var output = function(tape);
        double[] cotangent = output.Length == 1 ? [1.0] : RandomCotangent(output.Length, seed);
        using var seedBuffer = backend.Allocate<double>(cotangent);
        tape.Backward(output, seedBuffer.View);
        var analytic = inputs.Select(input => backend.ToArray(input.Grad)).ToArray();

        // 2. Numeric: central differences of f = v·y, one element at a time, recording nothing.
        double Evaluate()
        {
            tape.Reset();
            using (tape.NoGrad())
            {
                var y = backend.ToArray(function(tape).Data);
                if (y.Length != cotangent.Length) throw new InvalidOperationException("The function's output changed shape between calls.");
                double f = 0;
                for (int i = 0; i < y.Length; i++) f += cotangent[i] * y[i];
                return f;
            }
        }

        var worst = (Abs: 0.0, AbsAt: "-", Rel: 0.0, RelAt: "-", Ratio: double.NegativeInfinity, RatioAt: "-");
        int count = 0;
        for (int t = 0; t < inputs.Count; t++)
        {
            var input = inputs[t];
            var values = backend.ToArray(input.Data);
            for (int i = 0; i < values.Length; i++)
            {
                var element = input.Data.Slice(i, 1);
                backend.Upload([values[i] + step], element);
                double plus = Evaluate();
                backend.Upload([values[i] - step], element);
                double minus = Evaluate();
                backend.Upload([values[i]], element);
                double numeric = (plus - minus) / (2 * step), a = analytic[t][i];

                double abs = Math.Abs(a - numeric), scale = Math.Max(Math.Abs(a), Math.Abs(numeric));
                double rel = scale > 0 ? abs / scale : 0;
                double ratio = double.IsFinite(abs) ? abs / (absoluteTolerance + relativeTolerance * Math.Abs(numeric)) : double.PositiveInfinity;
                string at = $"{input.Name ?? $"input {t}"}[{i / input.Cols}, {i % input.Cols}]";
                if (!(abs <= worst.Abs)) (worst.Abs, worst.AbsAt) = (abs, at);
                if (rel > worst.Rel) (worst.Rel, worst.RelAt) = (rel, at);
                if (!(ratio <= worst.Ratio)) (worst.Ratio, worst.RatioAt) = (ratio, $"{at}: analytic {a:G10}, numeric {numeric:G10}");
                count++;
            }
        }
        return new GradCheckResult(worst.Ratio <= 1, count, worst.Abs, worst.AbsAt, worst.Rel, worst.RelAt, worst.RatioAt);
    }

    private static double[] RandomCotangent(int length, int seed)
    {
        var rng = new Random(seed);
        var v = new double[length];
        for (int i = 0; i < length; i++) v[i] = 2 * rng.NextDouble() - 1;
        return v;
    }
}
