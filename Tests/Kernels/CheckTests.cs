using Engine.Tests.Infrastructure;
using Engine.Kernels;

namespace Engine.Tests.Kernels;

/// <summary><see cref="Check.IsDefined{TEnum}"/>: the allocation-free replacement for Enum.IsDefined on hot paths.</summary>
public class CheckTests
{
    private enum Sparse { A = -3, B = 0, C = 7, D = 1000 }

    [Fact]
    public void IsDefined_accepts_exactly_the_declared_values()
    {
        foreach (var a in Enum.GetValues<Activation>()) Assert.True(Check.IsDefined(a));
        Assert.False(Check.IsDefined((Activation)(-1)));
        Assert.False(Check.IsDefined((Activation)4));
        foreach (var s in new[] { Sparse.A, Sparse.B, Sparse.C, Sparse.D }) Assert.True(Check.IsDefined(s));
        foreach (int v in new[] { -2, 1, 6, 8, 999, 1001 }) Assert.False(Check.IsDefined((Sparse)v));
    }

    [Fact]
    public void IsDefined_allocates_nothing_even_right_after_a_full_collection()
    {
        Check.IsDefined(Activation.Relu);
        GC.Collect();
        GC.WaitForPendingFinalizers();
        GC.Collect();
        bool defined = false;
        WarmAllocations.AssertNone(() => { defined = Check.IsDefined(Activation.Tanh); });
        Assert.True(defined);
    }
}
