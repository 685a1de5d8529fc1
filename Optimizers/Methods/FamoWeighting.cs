using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// FAMO, fast adaptive multitask optimization (Liu, Feng, Stone &amp; Liu, NeurIPS 2023; the authors' <c>FAMO</c> class,
/// LibMTL's <c>FAMO</c>): task logits w (start 0), z = softmax(w), and the objective Σᵢ zᵢ log(Lᵢ − m + ε)/c with
/// c = Σⱼ zⱼ/(Lⱼ − m + ε) held constant, whose gradient is Σᵢ λᵢ∇Lᵢ with λᵢ = (zᵢ/Dᵢ)/Σⱼ(zⱼ/Dⱼ), Dᵢ = Lᵢ − m + ε: the
/// step trains on Σ λᵢLᵢ with those λ (constants of the backward, as <c>gls</c>'s). The logits follow the log-losses'
/// decrease: with δᵢ = log D′ᵢ − log Dᵢ between two consecutive evaluations, one Adam step (learning rate
/// <c>w-lr</c>, L2 weight decay γ, torch.optim.Adam's rule) on the gradient Jᵀδ, J the softmax's Jacobian, so a task whose
/// log-loss falls faster than the z-weighted mean loses weight. O(T) per step, no per-task gradients
/// (<see cref="MethodNeeds.Losses"/> only), one kernel (<see cref="Backend{T}.FamoWeights"/>).
/// <para><b>When the logits move.</b> The authors (and LibMTL's trainer) evaluate the batch a second time after the model
/// step and update w from (before, after) on that batch: option <c>update=same-batch</c> (the step then runs that second
/// forward, <see cref="IReevaluatingWeighting{T}"/>). By default (<c>next-batch</c>) the step runs one forward per batch,
/// so δ compares this step's losses with the previous step's: the update of w that the reference makes at the end of step t is made here at the
/// start of step t+1, from L(θₜ; Bₜ) and L(θₜ₊₁; Bₜ₊₁) instead of L(θₜ₊₁; Bₜ). With full-batch training (and no dropout)
/// the two are the same numbers; with mini-batches δ also carries the difference between the two batches. Maths and the
/// reasons: docs/maths.md §18.10.</para>
/// <para>State (logits, Adam moments, previous losses, counters) lives in one device buffer and is saved and restored
/// with the step's state (<see cref="IMethodState{T}"/>, <c>method.famo.*</c>).</para>
/// </summary>
public sealed class FamoWeighting<T> : TaskWeighting<T>, IMethodState<T>, IReevaluatingWeighting<T> where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceBuffer<T> _state;
    private readonly (string Name, View<T> Values)[] _named;

    /// <summary>FAMO for <paramref name="tasks"/> tasks; equal weights 1/T until the first update.</summary>
    /// <param name="backend">The device.</param>
    /// <param name="tasks">T.</param>
    /// <param name="learningRate">The logits' Adam learning rate (the authors' <c>w_lr</c>, 0.025).</param>
    /// <param name="weightDecay">γ, the logits' L2 weight decay (0.001: the paper's Algorithm 2, the authors' NYUv2 script
    /// and LibMTL; famo.py's default is 0.01, weight_methods.py's 1e-5).</param>
    /// <param name="epsilon">ε inside the logs (1e-8).</param>
    /// <param name="minLoss">m, the lower bound of every loss (the authors' <c>min_losses</c>, 0).</param>
    /// <param name="sameBatch">True: the authors' schedule — <see cref="Update"/> forms the weights only and the logits step
    /// in <see cref="AfterStep"/> from the same batch's losses after the model step (the training step then runs a second
    /// forward); false: the logits step at the next <see cref="Update"/> from the next batch's losses.</param>
    public FamoWeighting(Backend<T> backend, int tasks, double learningRate = 0.025, double weightDecay = 1e-3, double epsilon = 1e-8,
        double minLoss = 0, bool sameBatch = false)
        : base(backend, tasks)
    {
        ReevaluatesBatch = sameBatch;
        Parameters = new FamoParameters(learningRate, weightDecay, epsilon, minLoss);
        _state = backend.Allocate<T>(FamoSolver.StateLength(tasks));
        try
        {
            CombinationChecks.CheckFamo(backend, Weights, Parameters, _state.View, Weights);
            backend.Fill(_state.View, T.Zero);
        }
        catch
        {
            _state.Dispose();
            throw;
        }
        var s = _state.View;
        _named =
        [
            ("famo.logits", s.Slice(0, tasks)),
            ("famo.exp_avg", s.Slice(tasks, tasks)),
            ("famo.exp_avg_sq", s.Slice(2 * tasks, tasks)),
            ("famo.previous_losses", s.Slice(3 * tasks, tasks)),
            ("famo.counters", s.Slice(4 * tasks, 2)),
        ];
        SetAll(1.0 / tasks);
    }

    /// <summary>The settings the kernel runs with.</summary>
    public FamoParameters Parameters { get; }

    /// <summary>The whole state (<see cref="FamoSolver.StateLength"/>(T) elements, layout in <see cref="FamoSolver"/>).</summary>
    public View<T> State => _state.View;

    /// <summary>The logits w (T, on the device; z = softmax(w)).</summary>
    public View<T> Logits => _named[0].Values;

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers => _named;

    /// <inheritdoc/>
    public bool ReevaluatesBatch { get; }

    /// <inheritdoc/>
    public override void Update(View<T> taskLosses)
    {
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        Backend.FamoWeights(taskLosses, Parameters, _state.View, Weights, ReevaluatesBatch ? FamoSolver.WeightsOnly : FamoSolver.LogitsThenWeights);
    }

    /// <summary>Same-batch FAMO: the logit step from the losses <see cref="Update"/> stored and these, the same batch's
    /// after the model step (the authors' <c>update(curr_loss)</c>). Throws unless built with <c>sameBatch</c>.</summary>
    public void AfterStep(View<T> lossesAfterStep)
    {
        if (!ReevaluatesBatch) throw new InvalidOperationException("This FAMO takes its logit step in Update (next-batch); AfterStep is for sameBatch: true.");
        Check.Length(lossesAfterStep, Tasks, nameof(lossesAfterStep));
        Backend.FamoWeights(lossesAfterStep, Parameters, _state.View, Weights, FamoSolver.LogitsOnly);
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _state.Dispose();
        base.Dispose();
    }

    /// <summary>The registry entry <c>famo</c>.</summary>
    public static MethodDescriptor Method { get; } = new("famo",
        "FAMO: logits w moved by Adam on the log-losses' decrease; λᵢ ∝ softmax(w)ᵢ/(Lᵢ − m + ε)", "Liu et al. 2023 (FAMO, NeurIPS)",
        MethodNeeds.Losses,
        [
            MethodOption.Real("w-lr", 0.025, "the logits' Adam learning rate", min: 0, minExclusive: true),
            MethodOption.Real("gamma", 1e-3, "the logits' weight decay γ (L2, as torch Adam's weight_decay)", min: 0),
            MethodOption.Real("epsilon", 1e-8, "ε in log(Lᵢ − m + ε)", min: 0),
            MethodOption.Real("min-loss", 0, "m, the lower bound of every task loss"),
            MethodOption.Choice("update", "next-batch", "δ from the next step's losses, or from the same batch re-evaluated after the step (a second forward; the authors')",
                "next-batch", "same-batch"),
        ],
        weighting: c => new FamoWeighting<float>(c.Backend, c.Tasks, c.Arguments.Real("w-lr"), c.Arguments.Real("gamma"),
            c.Arguments.Real("epsilon"), c.Arguments.Real("min-loss"), c.Arguments.Choice("update") == "same-batch"));
}
