using Engine.Autodiff;
using Engine.Kernels;
using Engine.Tests.Infrastructure;

namespace Engine.Tests.Autodiff;

/// <summary>
/// The autodiff driving real training in float32: the multi-task net, plain gradient descent
/// <c>θ −= lr·∇θ</c> written with one Axpy over the flat buffers, on each float32 device.
/// </summary>
public class TrainingSmokeTests
{
    [Theory]
    [MemberData(nameof(TestDevices.Float32), MemberType = typeof(TestDevices))]
    public void Gradient_descent_on_the_weighted_loss_reduces_both_task_losses(string device)
    {
        if (TestDevices.IsEmulated(device))
            Assert.Skip("150 steps take minutes on ILGPU's CPU accelerator; its kernels are covered by the float32 parity tests.");
        var backend = TestDevices.Get(device);
        using var net = new MultiTaskNet<float>(backend);
        using var tape = new Tape<float>(backend);
        (float Regression, float Classification) Step(bool update)
        {
            tape.Reset();
            backend.Fill(net.Parameters.Gradients, 0f);
            var (regression, classification, total) = net.Forward(tape);
            if (update)
            {
                tape.Backward(total);
                backend.Axpy(-0.1f, net.Parameters.Gradients, net.Parameters.Values);
            }
            return (backend.Read(regression.Data), backend.Read(classification.Data));
        }

        var start = Step(update: false);
        for (int i = 0; i < 150; i++) Step(update: true);
        var end = Step(update: false);
        // Seven samples and 137 parameters: the net can fit them; both losses must fall at least fivefold (they fall ~15–50× on the CPU path).
        Assert.True(end.Regression < 0.2f * start.Regression, $"regression loss {start.Regression} → {end.Regression}");
        Assert.True(end.Classification < 0.2f * start.Classification, $"classification loss {start.Classification} → {end.Classification}");
    }
}
