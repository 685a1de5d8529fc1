namespace Engine.Kernels;

/// <summary>The pointwise non-linearities a dense layer can apply (fused into the GEMM epilogue).</summary>
public enum Activation
{
    /// <summary>f(x) = x.</summary>
    Identity,
    /// <summary>f(x) = max(0, x).</summary>
    Relu,
    /// <summary>f(x) = tanh(x).</summary>
    Tanh,
    /// <summary>f(x) = 1 / (1 + e^(−x)).</summary>
    Sigmoid,
}
