namespace Engine.Distributed;

/// <summary>How a <see cref="Engine.Training.Trainer"/> trains data-parallel (docs/scale-out.md, maths §20).</summary>
public sealed record DistributedOptions
{
    /// <summary>The ranks (every rank runs the same Fit with the same options and the same full data set; each keeps its
    /// shard).</summary>
    public required ICommunicator Communicator { get; init; }

    /// <summary>Compare the weights' hash across ranks every this many steps (and after every epoch); 0 = after every
    /// epoch only. A mismatch throws <see cref="CommunicatorException"/>.</summary>
    public int WeightCheckSteps { get; init; } = 100;
}
