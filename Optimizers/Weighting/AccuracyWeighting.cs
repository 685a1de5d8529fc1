using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Accuracy-based weights, updated at epoch boundaries: <c>wᵢ = (1 − accᵢ)/Σⱼ(1 − accⱼ)</c> with accᵢ ∈ [0, 1] the epoch
/// accuracy of task i (the task doing worst gets the most weight). Equal weights 1/T before the first epoch, and when
/// every task is perfect (Σⱼ(1 − accⱼ) = 0).
/// </summary>
public sealed class AccuracyWeighting<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly double[] _weights;

    public AccuracyWeighting(Backend<T> backend, int tasks) : base(backend, tasks)
    {
        _weights = new double[tasks];
        SetAll(1.0 / tasks);
    }

    /// <inheritdoc/>
    public override void EndEpoch(ReadOnlySpan<double> epochLosses, ReadOnlySpan<double> epochAccuracies)
    {
        CheckPerTask(epochAccuracies, nameof(epochAccuracies));
        double total = 0;
        foreach (double a in epochAccuracies)
        {
            if (a < 0 || a > 1) throw new ArgumentOutOfRangeException(nameof(epochAccuracies), a, "Accuracies must lie in [0, 1].");
            total += 1 - a;
        }
        for (int i = 0; i < Tasks; i++) _weights[i] = total > 0 ? (1 - epochAccuracies[i]) / total : 1.0 / Tasks;
        SetWeights(_weights);
    }

    /// <summary>The registry entry <c>accuracy</c>.</summary>
    public static MethodDescriptor Method { get; } = new("accuracy",
        "after each epoch λᵢ = (1 − accᵢ)/Σⱼ(1 − accⱼ) from the training accuracies (classification tasks only)", "—",
        MethodNeeds.EpochAccuracies, [],
        weighting: c => new AccuracyWeighting<float>(c.Backend, c.Tasks));
}
