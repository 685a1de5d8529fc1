namespace Engine.Checkpoints;

/// <summary>
/// The tensor names of an Engine checkpoint. Parameters follow PyTorch's <c>state_dict</c> naming for a
/// module with a <c>trunk</c> (an <c>nn.ModuleList</c> of <c>nn.Linear</c>, activations applied in
/// <c>forward</c>) and a <c>heads</c> <c>nn.ModuleDict</c>, so the same file loads into an equivalent PyTorch
/// model with <c>load_state_dict</c>:
/// <list type="bullet">
/// <item><c>trunk.{i}.weight</c> [out, in], <c>trunk.{i}.bias</c> [out] — dense layer i of the shared trunk (i = 0, 1, …, counting dense layers only);</item>
/// <item><c>heads.{task}.weight</c> [out, in], <c>heads.{task}.bias</c> [out] — a task's single-layer head;</item>
/// <item><c>heads.{task}.{i}.weight</c> / <c>.bias</c> — layer i of a task's multi-layer head;</item>
/// <item><c>optimizer.{state}.{parameter}</c> — optimizer state per parameter (e.g. <c>optimizer.exp_avg.trunk.0.weight</c>,
/// <c>optimizer.exp_avg_sq.trunk.0.weight</c> for Adam, <c>optimizer.momentum_buffer.…</c> for SGD), and
/// three I64 scalars: <c>optimizer.step</c> (t, the steps applied), <c>optimizer.skipped_steps</c> (steps skipped for a
/// non-finite gradient norm) and <c>optimizer.schedule_step</c> (Step() calls, skipped ones included: the learning-rate
/// schedule's position).</item>
/// </list>
/// Task names must not contain '.', which separates the parts.
/// </summary>
public static class CheckpointNames
{
    /// <summary>The prefix of every optimizer-state tensor.</summary>
    public const string OptimizerPrefix = "optimizer.";

    /// <summary>The optimizer's step counter (I64 scalar, shape []).</summary>
    public const string OptimizerStep = "optimizer.step";

    /// <summary>The number of steps skipped for a non-finite gradient norm (I64 scalar, shape []).</summary>
    public const string OptimizerSkippedSteps = "optimizer.skipped_steps";

    /// <summary>The learning-rate schedule's step, skipped steps included (I64 scalar, shape []).</summary>
    public const string OptimizerScheduleStep = "optimizer.schedule_step";

    /// <summary><c>trunk.{layer}.weight</c>.</summary>
    public static string TrunkWeight(int layer) => $"trunk.{NonNegative(layer)}.weight";

    /// <summary><c>trunk.{layer}.bias</c>.</summary>
    public static string TrunkBias(int layer) => $"trunk.{NonNegative(layer)}.bias";

    /// <summary><c>heads.{task}.weight</c>.</summary>
    public static string HeadWeight(string task) => $"heads.{Task(task)}.weight";

    /// <summary><c>heads.{task}.bias</c>.</summary>
    public static string HeadBias(string task) => $"heads.{Task(task)}.bias";

    /// <summary><c>heads.{task}.{layer}.weight</c>.</summary>
    public static string HeadWeight(string task, int layer) => $"heads.{Task(task)}.{NonNegative(layer)}.weight";

    /// <summary><c>heads.{task}.{layer}.bias</c>.</summary>
    public static string HeadBias(string task, int layer) => $"heads.{Task(task)}.{NonNegative(layer)}.bias";

    /// <summary><c>optimizer.{state}.{parameter}</c>, e.g. ("exp_avg", "trunk.0.weight").</summary>
    public static string Optimizer(string state, string parameter)
    {
        ArgumentException.ThrowIfNullOrEmpty(parameter);
        if (string.IsNullOrEmpty(state) || state.Contains('.'))
            throw new ArgumentException($"Optimizer state name '{state}' must be non-empty and contain no '.'.", nameof(state));
        return $"{OptimizerPrefix}{state}.{parameter}";
    }

    /// <summary>Whether a tensor name is optimizer state rather than a model parameter.</summary>
    public static bool IsOptimizerState(string name) => name.StartsWith(OptimizerPrefix, StringComparison.Ordinal);

    private static string Task(string task)
    {
        if (string.IsNullOrEmpty(task) || task.Contains('.'))
            throw new ArgumentException($"Task name '{task}' must be non-empty and contain no '.'.", nameof(task));
        return task;
    }

    private static int NonNegative(int layer)
    {
        ArgumentOutOfRangeException.ThrowIfNegative(layer);
        return layer;
    }
}
