using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// Dynamic weight averaging (Liu, Johns &amp; Davison 2019, "End-to-End Multi-Task Learning with Attention"):
/// <c>wᵢ(t) = T·exp(rᵢ(t−1)/τ)/Σⱼ exp(rⱼ(t−1)/τ)</c> with <c>rᵢ(t−1) = Lᵢ(t−1)/Lᵢ(t−2)</c>, the ratio of task i's
/// mean loss over the last two epochs, and temperature τ. The weights sum to T. The first two epochs use wᵢ = 1 (there is
/// no ratio yet). A tiny Lᵢ(t−2) is clamped at 1e-12. Computed on the host at epoch boundaries (max-shifted softmax).
/// </summary>
public sealed class DynamicWeightAveraging<T> : TaskWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly double[] _previous, _beforePrevious, _weights;

    public DynamicWeightAveraging(Backend<T> backend, int tasks, double temperature = 2.0) : base(backend, tasks)
    {
        if (!(temperature > 0) || !double.IsFinite(temperature))
            throw new ArgumentOutOfRangeException(nameof(temperature), temperature, "The temperature must be positive.");
        Temperature = temperature;
        _previous = new double[tasks];
        _beforePrevious = new double[tasks];
        _weights = new double[tasks];
        SetAll(1.0);
    }

    /// <summary>τ: large τ → weights near 1; small τ → the task whose loss fell least dominates.</summary>
    public double Temperature { get; }

    /// <summary>Epochs completed so far.</summary>
    public int Epochs { get; private set; }

    /// <inheritdoc/>
    public override void EndEpoch(ReadOnlySpan<double> epochLosses, ReadOnlySpan<double> epochAccuracies)
    {
        CheckPerTask(epochLosses, nameof(epochLosses));
        _previous.CopyTo(_beforePrevious, 0);
        epochLosses.CopyTo(_previous);
        Epochs++;
        if (Epochs < 2) return; // epochs 1 and 2 train with equal weights

        double max = double.NegativeInfinity;
        for (int i = 0; i < Tasks; i++)
        {
            _weights[i] = _previous[i] / Math.Max(_beforePrevious[i], 1e-12) / Temperature;
            max = Math.Max(max, _weights[i]);
        }
        double sum = 0;
        for (int i = 0; i < Tasks; i++) sum += _weights[i] = Math.Exp(_weights[i] - max);
        for (int i = 0; i < Tasks; i++) _weights[i] *= Tasks / sum;
        SetWeights(_weights);
    }

    /// <summary>The registry entry <c>dwa</c>.</summary>
    public static MethodDescriptor Method { get; } = new("dwa",
        "after each epoch a softmax of the last two epochs' loss ratios, summing to T", "Liu, Johns & Davison 2019",
        MethodNeeds.EpochLosses, [MethodOption.Real("temperature", 2.0, "the temperature τ", min: 0, minExclusive: true)],
        weighting: c => new DynamicWeightAveraging<float>(c.Backend, c.Tasks, c.Arguments.Real("temperature")));
}
