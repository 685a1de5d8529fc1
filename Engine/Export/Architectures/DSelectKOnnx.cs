namespace Engine.Export.Architectures;

/// <summary>
/// DSelect-k's nodes (maths §17.5): the experts as MMoE's ([E × batch × H]); per task its gate, exactly as
/// <see cref="DSelectGate{T}.Forward"/> computes it at inference —
/// <list type="number">
/// <item>code logits <c>z = Gemm(x, Z, b_z)</c> [batch × k·m] (selector i's bit j in column i·m + j);</item>
/// <item>the smooth-step as the kernel writes it: <c>Where(z ≤ −γ/2, 0, Where(z ≥ γ/2, 1, t·(a₃t² + a₁) + a₀))</c> on
/// <c>t = Clip(z, −γ/2, γ/2)</c>, a₃ = −2/γ³, a₁ = 3/(2γ), a₀ = ½: the cubic inside the band, exactly 0 and 1 outside it
/// (the cubic's own float32 values at the edges are off by the rounding of its coefficients for some γ, e.g. −6e-8 at
/// γ = 0.3, so a selector the engine switches off exactly would be only nearly off);</item>
/// <item>the k single-expert selectors: every factor of r⁽ⁱ⁾ₑ is affine in one sᵢⱼ, <c>cⱼ(e) = A[j, e] + C[j, e]·sᵢⱼ</c> with
/// A = 1 − bit, C = 2·bit − 1 (so s or 1 − s, exactly), so <c>Reshape(s, [−1, k, m, 1])·C + A</c> is [batch × k × m × E] and
/// <c>ReduceProd</c> over the bits gives r [batch × k × E];</item>
/// <item><c>α = Softmax(Gemm(x, W, b_w))</c> [batch × k] and <c>q = ReduceSum(r·Unsqueeze(α, 2), axis 1)</c> [batch × E];</item>
/// <item>the mixture <c>Σₑ q[b, e]·y[e, b]</c>, MMoE's (<see cref="MixtureOfExpertsOnnx.Mixture"/>).</item>
/// </list>
/// The entropy regulariser is a training term and has no node.
/// </summary>
internal static class DSelectKOnnx
{
    public static string[] Export(OnnxGraph graph, DSelectK<float> part, string input, int tasks)
    {
        var architecture = part.Architecture;
        var experts = graph.Mlp(part.ExpertLayers, input);
        var (offsets, signs) = Codes(graph, architecture);
        var features = new string[tasks];
        for (int t = 0; t < tasks; t++)
        {
            var gate = part.Gate(t);
            var weights = Gate(graph, gate, architecture, input, offsets, signs);
            features[t] = MixtureOfExpertsOnnx.Mixture(graph, experts, weights, gate.Name);
        }
        return features;
    }

    /// <summary>The constants A = 1 − bit and C = 2·bit − 1 [m × E] of the selectors' factors, bit j of e as
    /// <c>DSelectReference.Bit</c> (0 the most significant); shared by every task's gate.</summary>
    private static (string Offsets, string Signs) Codes(OnnxGraph graph, DSelectKArchitecture architecture)
    {
        int m = architecture.Bits, e = architecture.Experts;
        var a = new float[m * e];
        var c = new float[m * e];
        for (int j = 0; j < m; j++)
            for (int x = 0; x < e; x++)
            {
                int bit = Kernels.DSelectReference.Bit(x, j, m);
                a[j * e + x] = 1 - bit;
                c[j * e + x] = 2 * bit - 1;
            }
        return (graph.Constant("dselect.code_offsets", a, m, e), graph.Constant("dselect.code_signs", c, m, e));
    }

    /// <summary>One task's expert weights q(x) [batch × E].</summary>
    private static string Gate(OnnxGraph graph, DSelectGate<float> gate, DSelectKArchitecture architecture, string input, string offsets, string signs)
    {
        string name = gate.Name;
        int k = architecture.TopK, m = architecture.Bits;
        var s = SmoothStep(graph, graph.Dense(gate.Codes, input), (float)architecture.SmoothStepGamma, name);
        var bits = graph.Node("Reshape", [s, graph.ConstantInt64(name + ".bits_shape", -1, k, m, 1)], name + ".bits");   // [B × k × m × 1]
        var factors = graph.Node("Add", [graph.Node("Mul", [bits, signs], name + ".signed"), offsets], name + ".factors"); // [B × k × m × E]
        var selectors = graph.Node("ReduceProd", [factors], name + ".selectors", OnnxGraph.Ints("axes", 2), OnnxGraph.Int("keepdims", 0)); // [B × k × E]
        var alpha = MixtureOfExpertsOnnx.Gate(graph, gate.Weights, input);                                                   // [B × k]
        var column = graph.Node("Unsqueeze", [alpha, graph.ConstantInt64(name + ".axis2", 2)], name + ".alpha_column");    // [B × k × 1]
        var weighted = graph.Node("Mul", [selectors, column], name + ".weighted_selectors");
        return graph.Node("ReduceSum", [weighted, graph.ConstantInt64(name + ".axis1", 1)], name + ".q", OnnxGraph.Int("keepdims", 0));
    }

    /// <summary>S(z): 0 for z ≤ −γ/2, 1 for z ≥ γ/2, else t·(a₃t² + a₁) + a₀ — the comparisons and the coefficients (rounded to
    /// float32) of the CPU kernel; the cubic runs on t = Clip(z, −γ/2, γ/2), which the two <c>Where</c>s then overrule.</summary>
    private static string SmoothStep(OnnxGraph graph, string z, float gamma, string name)
    {
        float half = gamma / 2, a3 = -2f / (gamma * gamma * gamma), a1 = 3f / (2f * gamma), a0 = 0.5f;
        string low = graph.Constant(name + ".band_low", [-half]), high = graph.Constant(name + ".band_high", [half]);
        var t = graph.Node("Clip", [z, low, high], name + ".clipped");
        var square = graph.Node("Mul", [graph.Node("Mul", [t, graph.Constant(name + ".a3", [a3])], name + ".a3t"), t], name + ".a3t2");
        var inner = graph.Node("Add", [square, graph.Constant(name + ".a1", [a1])], name + ".inner");
        var cubic = graph.Node("Add", [graph.Node("Mul", [t, inner], name + ".cubic_t"), graph.Constant(name + ".a0", [a0])], name + ".cubic");
        var upper = graph.Node("Where", [graph.Node("GreaterOrEqual", [z, high], name + ".above"), graph.Constant(name + ".one", [1f]), cubic], name + ".upper");
        return graph.Node("Where", [graph.Node("LessOrEqual", [z, low], name + ".below"), graph.Constant(name + ".zero", [0f]), upper], name + ".smooth_step");
    }
}
