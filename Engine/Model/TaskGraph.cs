using Engine.Data;

namespace Engine;

/// <summary>
/// Ordered tasks (docs/maths.md §17.6): which tasks are defined from others. <see cref="Products"/> — a task whose
/// probability is the product of other tasks' probabilities (ESMM, Ma et al., SIGIR 2018: pCTCVR = pCTR·pCVR, trained
/// on the CTR and CTCVR labels); <see cref="Inputs"/> — a task whose tower also reads other tasks' predictions;
/// <see cref="Unsupervised"/> — tasks with no loss of their own (ESMM's pCVR, learnt only through the product).
/// <see cref="Order"/> validates the graph against the model's tasks and returns an order in which every task comes after
/// the tasks it reads; a cycle is an error naming it (<c>a → b → a</c>).
/// </summary>
public sealed record TaskGraph
{
    /// <summary>Task → the binary tasks whose probabilities it is the product of (at least two).</summary>
    public IReadOnlyDictionary<string, string[]> Products { get; init; } = new Dictionary<string, string[]>();

    /// <summary>Task → the tasks whose predictions its tower reads besides the shared part's features (docs/maths.md §17.7):
    /// the tower's first layer (or the output layer, without a tower) reads [h | a₁ | a₂ …], aₛ the source's probability
    /// (binary: σ(z); a product: p; multi-label: σ(z) per label; multi-class: softmax(z) over its k classes) or its value
    /// (regression, in training units).</summary>
    public IReadOnlyDictionary<string, string[]> Inputs { get; init; } = new Dictionary<string, string[]>();

    /// <summary>Whether a tower reads its inputs detached (PyTorch's <c>detach()</c>: no gradient from the reading task's loss
    /// reaches the source task) instead of end to end. Default false: gradients flow into the source, as ESMM's CTCVR loss
    /// trains the CTR tower and AITM's (Xi et al., KDD 2021) conversion loss trains the click tower through its transfer.</summary>
    [System.Text.Json.Serialization.JsonIgnore(Condition = System.Text.Json.Serialization.JsonIgnoreCondition.WhenWritingDefault)]
    public bool DetachInputs { get; init; }

    /// <summary>Tasks with no loss of their own (each must be a factor of a product, or it would learn nothing).</summary>
    public IReadOnlyList<string> Unsupervised { get; init; } = [];

    /// <summary>True when another task's loss trains <paramref name="task"/> through this graph: it is a factor of a product,
    /// or a tower reads its prediction without <see cref="DetachInputs"/>.</summary>
    public bool IsTrainedByOthers(string task) =>
        Products.Values.Any(f => f.Contains(task, StringComparer.Ordinal))
        || !DetachInputs && Inputs.Values.Any(s => s is not null && s.Contains(task, StringComparer.Ordinal));

    /// <summary>ESMM's graph: <paramref name="product"/> = <paramref name="first"/>·<paramref name="second"/>, the second
    /// (pCVR) without a loss of its own.</summary>
    public static TaskGraph Esmm(string product, string first, string second) =>
        new() { Products = new Dictionary<string, string[]> { [product] = [first, second] }, Unsupervised = [second] };

    /// <summary>
    /// Checks the graph against <paramref name="heads"/> and returns the head indices in an order where every task
    /// follows the tasks it reads (a topological order, ties in head order).
    /// </summary>
    /// <exception cref="ArgumentException">A name that is no task; a product of fewer than two tasks or of a task that is
    /// not binary; a product task with a tower input; an unsupervised task no product reads; or a cycle, named
    /// (<c>task graph has a cycle: a → b → a</c>).</exception>
    public int[] Order(IReadOnlyList<TaskHead> heads)
    {
        ArgumentNullException.ThrowIfNull(heads);
        var index = new Dictionary<string, int>(StringComparer.Ordinal);
        for (int i = 0; i < heads.Count; i++) index[heads[i].Name] = i;
        int Find(string name, string where) => index.TryGetValue(name, out int i) ? i
            : throw new ArgumentException($"TaskGraph.{where}: '{name}' is not a task (tasks: {string.Join(", ", heads.Select(h => h.Name))}).", where);

        var reads = new List<int>[heads.Count];
        for (int i = 0; i < reads.Length; i++) reads[i] = [];
        foreach (var (task, factors) in Products)
        {
            int t = Find(task, nameof(Products));
            if (factors is null || factors.Length < 2)
                throw new ArgumentException($"TaskGraph.Products: '{task}' must be the product of at least two tasks.", nameof(Products));
            foreach (var f in factors.Prepend(task))
                if (heads[Find(f, nameof(Products))].Kind != TaskKind.Binary)
                    throw new ArgumentException($"TaskGraph.Products: '{f}' is {heads[index[f]].Kind}; a product is of probabilities, binary tasks only.", nameof(Products));
            if (Inputs.ContainsKey(task))
                throw new ArgumentException($"TaskGraph.Inputs: '{task}' is a product and has no tower to read inputs.", nameof(Inputs));
            reads[t].AddRange(factors.Select(f => Find(f, nameof(Products))));
        }
        foreach (var (task, sources) in Inputs)
        {
            if (sources is null || sources.Length == 0)
                throw new ArgumentException($"TaskGraph.Inputs: '{task}' reads no task.", nameof(Inputs));
            if (sources.Distinct(StringComparer.Ordinal).Count() != sources.Length)
                throw new ArgumentException($"TaskGraph.Inputs: '{task}' reads a task twice.", nameof(Inputs));
            reads[Find(task, nameof(Inputs))].AddRange(sources.Select(s => Find(s, nameof(Inputs))));
        }
        foreach (var u in Unsupervised)
            if (!IsTrainedByOthers(heads[Find(u, nameof(Unsupervised))].Name))
                throw new ArgumentException($"TaskGraph.Unsupervised: '{u}' has no loss and no product reads it (nor a tower, undetached), so nothing would train it.", nameof(Unsupervised));

        // Depth-first, in head order: 0 unvisited, 1 on the path, 2 done. A task met again while on the path closes a cycle.
        var state = new int[heads.Count];
        var path = new List<int>();
        var order = new List<int>(heads.Count);
        void Visit(int t)
        {
            if (state[t] == 2) return;
            if (state[t] == 1)
            {
                var cycle = path.Skip(path.IndexOf(t)).Append(t).Select(i => heads[i].Name);
                throw new ArgumentException($"TaskGraph: the task graph has a cycle: {string.Join(" → ", cycle)}.", nameof(Products));
            }
            state[t] = 1;
            path.Add(t);
            foreach (int r in reads[t]) Visit(r);
            path.RemoveAt(path.Count - 1);
            state[t] = 2;
            order.Add(t);
        }
        for (int t = 0; t < heads.Count; t++) Visit(t);
        return [.. order];
    }
}
