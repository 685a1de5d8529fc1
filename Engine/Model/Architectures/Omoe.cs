using System.ComponentModel;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// OMoE, the one-gate mixture of experts (Ma et al., KDD 2018, §3.2, the baseline MMoE is compared with): as
/// <see cref="MmoeArchitecture"/> but one gate <c>g(x) = softmax(W_g·x)</c> for every task, so all tasks read the same
/// mixture. Shared: the experts and the gate <c>gate.weight</c> [E, d]. Task-owned: nothing in the shared part.
/// </summary>
/// <param name="Experts">Number of experts E (≥ 1).</param>
[ArchitectureName("omoe")]
public sealed record OmoeArchitecture([property: Description("Number of experts E")] int Experts = 4) : Architecture
{
    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore] public override bool HasExperts => true;

    /// <inheritdoc/>
    public override SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) => new MixtureOfExperts<T>(spec, parameters, Experts, sharedGate: true);

    /// <inheritdoc/>
    public override void Validate()
    {
        if (Experts <= 0) throw new ArgumentOutOfRangeException(nameof(Experts), Experts, "OmoeArchitecture.Experts must be positive.");
    }
}
