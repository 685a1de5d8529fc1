using System.Globalization;
using Engine.Distributed;
using Engine.Kernels;
using Engine.Tests.Data;

namespace Engine.Tests.Distributed;

/// <summary>The communicators: the single-process one in-process; MPI's collectives under <c>mpirun -np 2</c>
/// (one launch), each against its closed form; NCCL's refusals on a machine without a GPU or libnccl.</summary>
public sealed class CommunicatorTests
{
    [Fact]
    public void Single_process_collectives_are_the_identity()
    {
        using var backend = Device.Create("cpu");
        using var buffer = backend.Allocate<float>([1.5f, -2f, 3f]);
        var c = SingleProcessCommunicator.Instance;
        Assert.Equal((0, 1), (c.Rank, c.Size));
        c.AllReduceSum(buffer.View);
        c.Broadcast(buffer.View, 0);
        c.Barrier();
        Assert.Equal([1.5f, -2f, 3f], backend.ToArray(buffer.View));
        var doubles = new[] { 0.25, 1e300 };
        c.AllReduceSum(doubles);
        Assert.Equal([0.25, 1e300], doubles);
        Assert.True(c.AllAgree(42));
        Assert.Throws<ArgumentOutOfRangeException>(() => c.Broadcast(buffer.View, 1));
    }

    [Fact]
    public void Mpi_collectives_on_two_ranks_match_their_closed_forms()
    {
        using var dir = new TempDirectory();
        var run = MpiRun.Run(2, MpiRun.Worker, ["collectives", dir.Path]);
        Assert.True(run.ExitCode == 0, run.ToString());
        for (int r = 0; r < 2; r++)
        {
            var lines = File.ReadAllLines(dir.File_($"rank{r}.txt")).ToDictionary(l => l[..l.IndexOf(':')], l => l[(l.IndexOf(':') + 2)..]);
            Assert.Equal(r.ToString(CultureInfo.InvariantCulture), lines["rank"]);
            Assert.Equal("2", lines["size"]);
            var reduced = lines["allreduce"].Split(' ').Select(s => float.Parse(s, CultureInfo.InvariantCulture)).ToArray();
            Assert.Equal(1000, reduced.Length);
            for (int i = 0; i < 1000; i++)
                Assert.Equal(i < 10 ? (r + 1) * (i + 1) : 3 * (i + 1), reduced[i]);    // Σ over ranks of (r+1)(i+1) = 3(i+1)
            Assert.Equal("0.5 2E+300 -1", lines["allreduce-double"]);                  // 0 + 0.5, 1e300 + 1e300, 0 − 1
            Assert.Equal("1.25 7", lines["broadcast"]);                                  // rank 1's values
            Assert.Equal("True", lines["agree-same"]);
            Assert.Equal("False", lines["agree-rank"]);
            Assert.Equal("passed", lines["barrier"]);
        }
    }

    [Fact]
    public void Nccl_refuses_a_backend_that_is_not_cuda_with_a_message()
    {
        using var backend = Device.Create("cpu");
        var e = Assert.Throws<CommunicatorException>(() => NcclCommunicator.Create(SingleProcessCommunicator.Instance, backend));
        Assert.Contains("NCCL reduces CUDA device memory", e.Message);
        Assert.Contains("--distributed mpi", e.Message);
    }

    [Fact]
    public void Nccl_library_absent_is_reported_with_what_was_tried()
    {
        if (System.Runtime.InteropServices.NativeLibrary.TryLoad("libnccl.so.2", out _))
            Assert.Skip("this machine has libnccl.so.2: the message for a missing library cannot be produced here");
        var e = Assert.Throws<CommunicatorException>(() => NcclLibrary.Load());
        Assert.Contains("libnccl.so.2", e.Message);
        Assert.Contains("MTL_NCCL_LIBRARY", e.Message);
    }
}
