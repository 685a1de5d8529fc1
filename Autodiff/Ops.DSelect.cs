using System.Numerics;
using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// The ops of a DSelect-k gate (Hazimeh et al., NeurIPS 2021; docs/maths.md §17.5): the smooth-step S, the k
/// single-expert selectors r⁽ⁱ⁾ = ⊗ⱼ [1 − S(zᵢⱼ), S(zᵢⱼ)] over the 2^m binary codes, and the selectors' entropy
/// regulariser. The α-weighted combination of the selectors, q = Σᵢ softmax(w)ᵢ·r⁽ⁱ⁾, is <see cref="Mixture{T}"/> with the
/// k selectors as its "experts" (the selectors are stored selector-major for exactly that).
/// </summary>
public static partial class Ops
{
    /// <summary><c>y = S(x)</c> elementwise: 0 for x ≤ −γ/2, 1 for x ≥ γ/2, −2x³/γ³ + 3x/(2γ) + 1/2 between.</summary>
    public static Tensor<T> SmoothStep<T>(this Tape<T> tape, Tensor<T> x, double gamma) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(x);
        T g = T.CreateChecked(gamma);
        var y = tape.NewActivation(x.Rows, x.Cols, x.RequiresGrad, "smooth-step");
        tape.Backend.SmoothStep(x.Data, g, y.Data);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.SmoothStep, y);
            record.A = x;
            record.Alpha = g;
        }
        return y;
    }

    /// <summary>dx (+)= dy·S′(x), S′(x) = 3/(2γ) − 6x²/γ³ inside the band, 0 outside.</summary>
    internal static void SmoothStepBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = record.A!;
        var dX = tape.GradOf(x, out bool accumulate);
        tape.Backend.SmoothStepBackward(x.Data, record.Output.Grad, record.Alpha, dX, accumulate);
    }

    /// <summary><see cref="SmoothStepBackward{T}"/> for all T tasks of the stacked per-task pass (<see cref="Tape{T}.BackwardPerTask"/>):
    /// dxₜ (+)= dyₜ·S′(x) for each task's block of the stacked [T × length] upstream; x is the same for every task (the
    /// elementwise op is row-independent). Reached when a DSelect-k gate is in the shared block (a product's factor, §17.6).</summary>
    internal static void SmoothStepBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var x = record.A!;
        var y = record.Output;
        var dX = tape.StackedGradOf(x, out bool accumulate);
        for (int t = 0; t < tape.StackedTasks; t++)
            tape.Backend.SmoothStepBackward(x.Data, y.StackedGrad.Slice(t * y.Length, y.Length), record.Alpha, dX.For(t), accumulate);
    }

    /// <summary>
    /// The <paramref name="selectors"/> single-expert selectors of DSelect-k: <paramref name="s"/> is [B × k·m] (row b,
    /// selector i, code bit j at column i·m + j; smooth-step outputs in [0, 1]); the result r is selector-major
    /// [k·B × 2^m], <c>r[i, b, e] = Πⱼ (bit j of e ? s[b, i, j] : 1 − s[b, i, j])</c> (bit 0 the most significant),
    /// a distribution over the 2^m experts for every (i, b).
    /// </summary>
    public static Tensor<T> Selectors<T>(this Tape<T> tape, Tensor<T> s, int selectors) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(s);
        Check.Positive(selectors, nameof(selectors));
        if (s.Cols % selectors != 0)
            throw new ArgumentException($"Selectors: {s} must have k·m columns for k = {selectors} selectors.", nameof(s));
        int bits = s.Cols / selectors;
        var r = tape.NewActivation(selectors * s.Rows, 1 << bits, s.RequiresGrad, "selectors");
        tape.Backend.Selectors(s.Data, s.Rows, selectors, bits, r.Data);
        if (r.RequiresGrad)
        {
            var record = tape.Record(OpKind.Selectors, r);
            record.A = s;
            record.Groups = selectors;
        }
        return r;
    }

    /// <summary>ds[b, i, j] (+)= Σₑ dr[i, b, e]·∂r[i, b, e]/∂s[b, i, j], the derivative a product of the other m − 1 factors, signed by bit j of e.</summary>
    internal static void SelectorsBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = record.A!;
        var dS = tape.GradOf(s, out bool accumulate);
        tape.Backend.SelectorsBackward(s.Data, record.Output.Grad, s.Rows, record.Groups, s.Cols / record.Groups, dS, accumulate);
    }

    /// <summary><see cref="SelectorsBackward{T}"/> for all T tasks of the stacked per-task pass: task t's block of the stacked
    /// [T × k·B·2^m] upstream through the same s into its block of ds. Each row b of r depends on row b of s alone, so the op
    /// is row-independent and T launches of the plain kernel are the stacked backward.</summary>
    internal static void SelectorsBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var s = record.A!;
        var r = record.Output;
        var dS = tape.StackedGradOf(s, out bool accumulate);
        for (int t = 0; t < tape.StackedTasks; t++)
            tape.Backend.SelectorsBackward(s.Data, r.StackedGrad.Slice(t * r.Length, r.Length), s.Rows, record.Groups, s.Cols / record.Groups, dS.For(t), accumulate);
    }

    /// <summary>
    /// The entropy regulariser of DSelect-k: a 1×1 tensor <c>scale·Σ −r·log(r + ε)</c> over every element of
    /// <paramref name="r"/> (each row of a <see cref="Selectors{T}"/> output is one selector's distribution, so the sum
    /// is the sum of the selectors' entropies), ε = 1e-6 as the reference code.
    /// </summary>
    public static Tensor<T> SelectorEntropy<T>(this Tape<T> tape, Tensor<T> r, double scale) where T : unmanaged, IFloatingPointIeee754<T>
    {
        ArgumentNullException.ThrowIfNull(r);
        T c = T.CreateChecked(scale);
        var y = tape.NewActivation(1, 1, r.RequiresGrad, "entropy");
        var terms = tape.Arena.Take(r.Length);
        var derivative = tape.Arena.Take(r.Length);
        tape.Backend.EntropyTerms(r.Data, c, terms, derivative);
        tape.Backend.Sum(terms, y.Data, c);
        if (y.RequiresGrad)
        {
            var record = tape.Record(OpKind.SelectorEntropy, y);
            record.A = r;
            record.Saved = derivative;                                 // scale·h′(r), times the upstream scalar
        }
        return y;
    }

    /// <summary><see cref="SelectorEntropyBackward{T}"/> for all T tasks of the stacked per-task pass: drₜ (+)= dyₜ·scale·h′(r),
    /// dyₜ the t-th scalar of the stacked upstream. Reached when the term is a boundary tensor (a factor's gate in the shared
    /// block, docs/maths.md §17.6): its own task's walk left dy there, the other tasks' rows hold 0.</summary>
    internal static void SelectorEntropyBackwardStacked<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dR = tape.StackedGradOf(record.A!, out bool accumulate);
        var y = record.Output;
        for (int t = 0; t < tape.StackedTasks; t++)
            tape.Backend.ScaleByScalar(record.Saved, y.StackedGrad.Slice(t, 1), dR.For(t), accumulate);
    }

    /// <summary>dr (+)= dy·scale·(−log(r + ε) − r/(r + ε)) (the derivative saved by the forward, scaled on the device).</summary>
    internal static void SelectorEntropyBackward<T>(Tape<T> tape, OpRecord<T> record) where T : unmanaged, IFloatingPointIeee754<T>
    {
        var dR = tape.GradOf(record.A!, out bool accumulate);
        tape.Backend.ScaleByScalar(record.Saved, record.Output.Grad, dR, accumulate);
    }
}
