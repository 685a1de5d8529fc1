using System.Globalization;
using Engine.Autodiff;
using Engine.Kernels;

namespace Engine;

/// <summary>The loss a regression task is trained with (maths: docs/maths.md §19.6).</summary>
public enum RegressionLossKind
{
    /// <summary>Mean squared error (the default).</summary>
    Mse,
    /// <summary>Mean absolute error |p − t|.</summary>
    L1,
    /// <summary>Huber with threshold δ: ½d² for |d| ≤ δ, δ(|d| − ½δ) beyond (PyTorch's <c>HuberLoss(delta)</c>).</summary>
    Huber,
}

/// <summary>
/// A regression task's loss, with Huber's threshold <see cref="Delta"/> (in the standardized units the model is trained
/// in; ignored by MSE and L1). Parsed from the CLI's <c>mse</c>, <c>l1</c>, <c>huber</c> or <c>huber:δ</c>
/// (<see cref="Parse"/>); <see cref="TaskHead.Loss"/> null is MSE. Dispatches to the masked kernels of §19.1 and §19.5.
/// </summary>
public sealed record RegressionLoss(RegressionLossKind Kind, double Delta = 1.0)
{
    /// <summary>The loss MSE.</summary>
    public static readonly RegressionLoss Mse = new(RegressionLossKind.Mse);

    /// <summary>The flag form: <c>mse</c>, <c>l1</c>, <c>huber:1.5</c>.</summary>
    public override string ToString() => Kind switch
    {
        RegressionLossKind.Huber => "huber:" + Delta.ToString("R", CultureInfo.InvariantCulture),
        _ => Kind.ToString().ToLowerInvariant(),
    };

    /// <summary><c>mse</c>, <c>l1</c>, <c>huber</c> (δ = 1) or <c>huber:δ</c> with δ finite and &gt; 0; anything else throws
    /// <see cref="ArgumentException"/> naming the text and the choices.</summary>
    public static RegressionLoss Parse(string text)
    {
        ArgumentNullException.ThrowIfNull(text);
        var parts = text.Trim().Split(':');
        string kind = parts[0].Trim().ToLowerInvariant();
        if (parts.Length == 1 && kind == "mse") return Mse;
        if (parts.Length == 1 && kind == "l1") return new RegressionLoss(RegressionLossKind.L1);
        if (kind == "huber" && parts.Length <= 2)
        {
            if (parts.Length == 1) return new RegressionLoss(RegressionLossKind.Huber);
            if (double.TryParse(parts[1], NumberStyles.Float, CultureInfo.InvariantCulture, out double delta) && double.IsFinite(delta) && delta > 0)
                return new RegressionLoss(RegressionLossKind.Huber, delta);
            throw new ArgumentException($"'{text}': Huber's δ must be a finite number > 0 (e.g. huber:1.5).", nameof(text));
        }
        throw new ArgumentException($"'{text}' is not a regression loss: use mse, l1, huber or huber:DELTA (e.g. huber:1.5).", nameof(text));
    }

    /// <summary>Throws unless δ is finite and &gt; 0 for Huber and the kind is known.</summary>
    internal void Validate(string where)
    {
        if (!Enum.IsDefined(Kind)) throw new ArgumentOutOfRangeException(nameof(Kind), Kind, $"{where}: unknown regression loss.");
        if (Kind == RegressionLossKind.Huber && (!(Delta > 0) || !double.IsFinite(Delta)))
            throw new ArgumentOutOfRangeException(nameof(Delta), Delta, $"{where}: Huber's δ must be finite and > 0.");
    }

    /// <summary>The masked loss on the tape (its backward recorded): MSE, L1 or Huber(δ), mean over the present targets,
    /// the present count written to <paramref name="count"/>. With sample weights (<paramref name="rowWeights"/>, one per row)
    /// the weighted mean of §19.11, its denominator D written to <paramref name="weightSum"/>.</summary>
    internal Tensor<float> Record(Tape<float> tape, Tensor<float> prediction, Tensor<float> target, View<float> count,
        View<float> rowWeights = default, View<float> weightSum = default) => Kind switch
    {
        RegressionLossKind.L1 => tape.MaskedL1(prediction, target, count, rowWeights, weightSum),
        RegressionLossKind.Huber => tape.MaskedHuber(prediction, target, (float)Delta, count, rowWeights, weightSum),
        _ => tape.MaskedMse(prediction, target, count, rowWeights, weightSum),
    };

    /// <summary>The same loss, forward only (evaluation): into <paramref name="loss"/>[0], the present count into <paramref name="count"/>
    /// (with <paramref name="rowWeights"/>, the weighted mean and D into <paramref name="weightSum"/>).</summary>
    internal void Forward(Backend<float> backend, View<float> prediction, View<float> target, View<float> loss, View<float> count,
        View<float> rowWeights = default, View<float> weightSum = default)
    {
        switch (Kind)
        {
            case RegressionLossKind.L1: backend.MaskedSmoothL1Forward(prediction, target, 0f, 1f, loss, count, rowWeights, weightSum); break;
            case RegressionLossKind.Huber: backend.MaskedSmoothL1Forward(prediction, target, (float)Delta, (float)Delta, loss, count, rowWeights, weightSum); break;
            default: backend.MaskedMseForward(prediction, target, loss, count, rowWeights, weightSum); break;
        }
    }

    /// <summary>The loss of one standardized error z, in float64 (the host-side test scores, <see cref="Experiments.TaskScore"/>).</summary>
    internal double Of(double z) => Kind switch
    {
        RegressionLossKind.L1 => Math.Abs(z),
        RegressionLossKind.Huber => Math.Abs(z) <= Delta ? 0.5 * z * z : Delta * (Math.Abs(z) - 0.5 * Delta),
        _ => z * z,
    };
}
