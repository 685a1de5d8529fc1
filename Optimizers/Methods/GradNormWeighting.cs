using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// GradNorm (Chen, Badrinarayanan, Lee &amp; Rabinovich 2018, "GradNorm: Gradient Normalization for Adaptive Loss
/// Balancing in Deep Multitask Networks", ICML; LibMTL <c>GradNorm</c>): learned task weights wᵢ (starting at 1) that
/// move every weighted gradient norm Gᵢ = ‖∇_W wᵢLᵢ‖ towards Ḡ·rᵢ^α, where rᵢ is task i's inverse training rate
/// L̃ᵢ/mean(L̃), L̃ᵢ = Lᵢ/Lᵢ(0). Each step trains on Σ wᵢLᵢ with this step's w, then one single-thread kernel
/// (<see cref="Backend{T}.GradNormStep"/>) takes the gradient of L_grad = Σ|Gᵢ − Ḡrᵢ^α| (targets constant) with respect
/// to w, steps w by its own Adam (or SGD) with its own learning rate, and renormalises Σw = T; the next step uses the
/// result. W is every shared parameter (LibMTL's choice; the paper takes the last shared layer, a cheaper proxy): the
/// engine computes the task gradients of the whole shared block anyway (<see cref="MethodNeeds.SharedGradients"/>), and
/// the squared norms are one <see cref="Backend{T}.SegmentedSumOfSquares"/> over them. The state (weights, learned
/// variable, Adam moments, Lᵢ(0), the update count) lives in one device buffer and is saved and resumed with the step's
/// optimizer state (<see cref="IMethodState{T}"/>). Maths: docs/maths.md §18.11.
/// </summary>
public sealed class GradNormWeighting<T> : TaskWeighting<T>, ITaskGradientWeighting<T>, IMethodState<T>
    where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly DeviceBuffer<T> _state;
    private readonly DeviceBuffer<T> _sums;       // [T + 1]: ‖∇Lᵢ‖², then their total
    private DeviceBuffer<int>? _offsets;          // [T + 1]: 0, P, 2P, …, TP (allocated on the first step, when P is known)
    private int _length = -1;

    /// <summary>A GradNorm weighting of <paramref name="tasks"/> tasks with <paramref name="settings"/>.</summary>
    public GradNormWeighting(Backend<T> backend, int tasks, GradNormSettings settings) : base(backend, tasks)
    {
        Settings = settings;
        _state = backend.Allocate<T>(GradNormSolver.StateLength(tasks));
        _sums = backend.Allocate<T>(tasks + 1);
        Reset();
        StateBuffers = [
            ("gradnorm.weight", Slice(0)), ("gradnorm.variable", Slice(1)), ("gradnorm.exp_avg", Slice(2)),
            ("gradnorm.exp_avg_sq", Slice(3)), ("gradnorm.initial_loss", Slice(4)), ("gradnorm.step", _state.View.Slice(5 * tasks, 1)),
        ];
    }

    private View<T> Slice(int block) => _state.View.Slice(block * Tasks, Tasks);

    /// <summary>α, the learning rate, the optimizer and the parameterization.</summary>
    public GradNormSettings Settings { get; }

    /// <summary>The whole state (<see cref="GradNormSolver"/>'s layout).</summary>
    public View<T> StateBuffer => _state.View;

    /// <inheritdoc/>
    public IReadOnlyList<(string Name, View<T> Values)> StateBuffers { get; }

    /// <summary>Back to the initial state: w = 1, no Lᵢ(0), no moments.</summary>
    public void Reset()
    {
        Backend.Upload<T>(Array.ConvertAll(GradNormSolver.InitialState(Tasks), v => T.CreateTruncating(v)), _state.View);
        SetAll(1.0);
    }

    /// <inheritdoc/>
    /// <remarks>This step's weights are the state's (written by the previous step's update, or restored).</remarks>
    public override void Update(View<T> taskLosses) => Backend.Copy(Slice(0), Weights);

    /// <inheritdoc/>
    public void ObserveTaskGradients(View<T> taskGradients, int length, View<T> taskLosses)
    {
        Check.Length(taskGradients, (long)Tasks * length, nameof(taskGradients));
        Check.Length(taskLosses, Tasks, nameof(taskLosses));
        if (length != _length) SizeOffsets(length);
        Backend.SegmentedSumOfSquares(taskGradients, _offsets!.View, _sums.View);
        Backend.GradNormStep(_sums.View.Slice(0, Tasks), taskLosses, _state.View, Settings);
    }

    /// <summary>The row offsets 0, P, …, TP for the segmented sum (its own method: a lambda capturing the parameter in
    /// <see cref="ObserveTaskGradients"/> would allocate its closure on every call).</summary>
    private void SizeOffsets(int length)
    {
        _offsets?.Dispose();
        _offsets = Backend.Allocate<int>([.. Enumerable.Range(0, Tasks + 1).Select(i => checked(i * length))]);
        _length = length;
    }

    /// <inheritdoc/>
    public override void Dispose()
    {
        _offsets?.Dispose();
        _sums.Dispose();
        _state.Dispose();
        base.Dispose();
    }

    /// <summary>The registry entry <c>gradnorm</c>.</summary>
    public static MethodDescriptor Method { get; } = new("gradnorm",
        "learned weights moving each ‖∇_W wᵢLᵢ‖ (W: the shared parameters) to Ḡ·rᵢ^α, rᵢ = (Lᵢ/Lᵢ(0))/mean; own Adam step, Σw = T",
        "Chen, Badrinarayanan, Lee & Rabinovich 2018",
        MethodNeeds.Losses | MethodNeeds.SharedGradients,
        [
            MethodOption.Real("alpha", 1.5, "α, the pull towards a common training rate (LibMTL: 1.5; 0 equalises the gradient norms)", min: 0),
            MethodOption.Real("lr", 0.025, "the weights' own learning rate", min: 0, minExclusive: true),
            MethodOption.Choice("optimizer", "adam", "the weights' optimizer: adam (β = 0.9, 0.999, ε = 1e-8) or sgd", "adam", "sgd"),
            MethodOption.Choice("weights", "paper", "paper: w learned, clamped at 0, renormalised to Σw = T; softmax: w = T·softmax(p) (LibMTL)", "paper", "softmax"),
        ],
        weighting: c => new GradNormWeighting<float>(c.Backend, c.Tasks, new GradNormSettings(c.Arguments.Real("alpha"), c.Arguments.Real("lr"),
            c.Arguments.Choice("optimizer") == "sgd" ? GradNormSolver.Sgd : GradNormSolver.Adam,
            c.Arguments.Choice("weights") == "softmax" ? GradNormSolver.Softmax : GradNormSolver.Paper)));
}
