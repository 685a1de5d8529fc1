using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Kernels;

/// <summary>
/// Tests that switch process-wide kernel choices (<c>CpuGemmDriver&lt;T&gt;.UseVector512</c>). They run in a collection
/// with parallelization disabled, so no other test's GEMM runs while the choice is switched: a GEMM that packs B̃ for
/// one micro-kernel width and computes with the other gives wrong numbers (and grows its scratch buffers).
/// </summary>
[CollectionDefinition(nameof(ProcessWideKernelChoice), DisableParallelization = true)]
public sealed class ProcessWideKernelChoice;

[Collection(nameof(ProcessWideKernelChoice))]
public class GemmVector512Tests
{
    /// <summary>The AVX-512 micro-kernel (6×32 float / 6×16 double tiles) on the same shapes and transposes. Where the CPU
    /// lacks AVX-512, .NET emulates Vector512 with 256-bit halves, so this checks its arithmetic on any machine;
    /// the driver picks it by itself where Vector512 is hardware-accelerated.</summary>
    [Fact]
    public void Vector512_micro_kernel_matches_the_naive_loop_in_float64_and_float32()
    {
        bool saved64 = Engine.Kernels.Cpu.CpuGemmDriver<double>.UseVector512, saved32 = Engine.Kernels.Cpu.CpuGemmDriver<float>.UseVector512;
        Engine.Kernels.Cpu.CpuGemmDriver<double>.UseVector512 = true;
        Engine.Kernels.Cpu.CpuGemmDriver<float>.UseVector512 = true;
        try
        {
            Assert.Equal(16, Engine.Kernels.Cpu.CpuGemmDriver<double>.NR);
            Assert.Equal(32, Engine.Kernels.Cpu.CpuGemmDriver<float>.NR);
            var cpu32 = TestDevices.Get(TestDevices.Cpu);
            int seed = 300;
            foreach (var (m, n, k) in new[] { (1, 1, 1), (7, 33, 257), (6, 32, 5), (13, 70, 40), (70, 150, 100), (20, 600, 100) })
                foreach (bool transA in new[] { false, true })
                    foreach (bool transB in new[] { false, true })
                    {
                        var t = new GemmTests.Case(transA, transB, m, n, k, 0.7, -0.3, true, Activation.Relu);
                        var (a, b, c, bias) = GemmTests.Inputs(t, seed++);
                        var expected = GemmTests.Naive(t.TransA, t.TransB, m, n, k, t.Alpha, a, b, t.Beta, c, bias, t.Activation);
                        Tolerance.AllClose(expected, GemmTests.RunDouble(t, a, b, c, bias), 1e-12, 1e-13 * Math.Sqrt(k + 1), "float64 " + t);
                        // float32: inputs are exact in float32; accumulation error ~ eps32·√k.
                        Tolerance.AllClose(expected, Tolerance.ToDouble(GemmTests.RunFloat(cpu32, t, a, b, c, bias)), 1e-4, 2e-5 * Math.Sqrt(k + 1), "float32 " + t);
                    }
        }
        finally
        {
            Engine.Kernels.Cpu.CpuGemmDriver<double>.UseVector512 = saved64;
            Engine.Kernels.Cpu.CpuGemmDriver<float>.UseVector512 = saved32;
        }
    }
}
