using System.ComponentModel;
using Engine.Kernels;

namespace Engine;

/// <summary>
/// CGC, customized gate control (Tang et al., RecSys 2020, §4.2): <see cref="Experts"/> shared experts and
/// <see cref="TaskExperts"/> experts per task (MLPs of widths <see cref="ModelSpec.Trunk"/>); task k reads
/// <c>gᵏ(x)·[Eₖ(x); Eₛ(x)]</c> with <c>gᵏ(x) = softmax(W_k·x)</c> over its own and the shared experts. One level of
/// <see cref="PleArchitecture"/>, with the same names (<c>levels.0.…</c>). Shared: the shared experts. Task-owned: the
/// task's experts and gate.
/// </summary>
/// <param name="Experts">Eₛ ≥ 1.</param>
/// <param name="TaskExperts">Eₜ ≥ 1 per task.</param>
[ArchitectureName("cgc")]
public sealed record CgcArchitecture(
    [property: Description("Shared experts Eₛ")] int Experts = 2,
    [property: Description("Experts of each task Eₜ")] int TaskExperts = 1) : Architecture
{
    /// <inheritdoc/>
    [System.Text.Json.Serialization.JsonIgnore] public override bool HasExperts => true;

    /// <inheritdoc/>
    public override SharedPart<T> Build<T>(ModelSpec spec, FlatParameters<T> parameters) =>
        new ProgressiveLayeredExtraction<T>(spec, parameters, Experts, TaskExperts, levels: 1);

    /// <inheritdoc/>
    public override void Validate() => new PleArchitecture(Experts, TaskExperts, 1).Validate();
}
