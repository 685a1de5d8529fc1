using System.Numerics;
using Engine.Kernels;

namespace Engine.Optimizers;

/// <summary>
/// The device-side step-control block of one optimizer (see <see cref="StepControl"/> for its layout):
/// the gradient scale and skip flag that <see cref="GradientClipper{T}"/> writes, the step count t the
/// optimizer kernels read, the last global norm and the number of skipped steps. The host never reads it
/// inside a step; the <c>Read…</c> methods are for reporting.
/// </summary>
public sealed class StepControlBlock<T> : IDisposable where T : unmanaged, IFloatingPointIeee754<T>
{
    private readonly Backend<T> _backend;
    private readonly DeviceBuffer<T> _buffer;

    /// <summary>Allocates a block on <paramref name="backend"/>: scale 1, not skipped, t = 0, norm NaN, 0 skipped.</summary>
    public StepControlBlock(Backend<T> backend)
    {
        ArgumentNullException.ThrowIfNull(backend);
        _backend = backend;
        _buffer = backend.Allocate<T>(StepControl.Length);
        Write(0, 0);
    }

    /// <summary>The whole block (what the kernels take).</summary>
    public View<T> View => _buffer.View;

    /// <summary>The global gradient norm of the last clipped step, as a 1-element device view.</summary>
    public View<T> Norm => _buffer.Slice(StepControl.GlobalNorm, 1);

    /// <summary>True between a <see cref="GradientClipper{T}.Clip"/> and the optimizer step that consumes it.</summary>
    internal bool IsPrepared { get; private set; }

    internal void MarkPrepared() => IsPrepared = true;

    internal void MarkConsumed() => IsPrepared = false;

    /// <summary>Reads the global norm ‖g‖ of the last clipped step (host read: reporting only).</summary>
    public double ReadNorm() => double.CreateTruncating(_backend.Read(_buffer.View, StepControl.GlobalNorm));

    /// <summary>Reads whether the last step was skipped because ‖g‖ was not finite (host read).</summary>
    public bool ReadSkipped() => _backend.Read(_buffer.View, StepControl.Skip) != T.Zero;

    /// <summary>Reads the step count t: steps applied so far (host read).</summary>
    public long ReadStepCount() => (long)double.CreateTruncating(_backend.Read(_buffer.View, StepControl.StepCount));

    /// <summary>Reads how many steps were skipped so far because ‖g‖ was not finite (host read).</summary>
    public long ReadSkippedSteps() => (long)double.CreateTruncating(_backend.Read(_buffer.View, StepControl.SkippedSteps));

    /// <summary>Reads the gradient scale of the last step (host read).</summary>
    public double ReadScale() => double.CreateTruncating(_backend.Read(_buffer.View, StepControl.GradientScale));

    /// <summary>Overwrites the counters (restoring a checkpoint): scale 1, not skipped, norm NaN.</summary>
    internal void Write(long stepCount, long skippedSteps)
    {
        Span<T> block = stackalloc T[StepControl.Length];
        block[StepControl.GradientScale] = T.One;
        block[StepControl.Skip] = T.Zero;
        block[StepControl.StepCount] = T.CreateChecked(stepCount);
        block[StepControl.GlobalNorm] = T.NaN;
        block[StepControl.SkippedSteps] = T.CreateChecked(skippedSteps);
        _backend.Upload<T>(block, _buffer.View);
        IsPrepared = false;
    }

    /// <inheritdoc/>
    public void Dispose() => _buffer.Dispose();
}
