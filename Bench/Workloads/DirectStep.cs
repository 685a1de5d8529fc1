using Engine.Autodiff;
using Engine.Kernels;
using Engine.Optimizers;

namespace Engine.Bench.Workloads;

/// <summary>How a PCGrad step gets each task's gradient of the trunk.</summary>
public enum PerTaskBackward
{
    /// <summary>All tasks through the trunk at once (<see cref="Tape{T}.BackwardPerTask"/>).</summary>
    Stacked,
    /// <summary>One routed backward per task (<see cref="Tape{T}.Backward(Tensor{T}, ParameterGroup{T}, View{T}, View{T})"/>): the reference.</summary>
    Separate,
}

/// <summary>
/// A workload's training step written directly on the library's parts — <see cref="Tape{T}"/>,
/// <see cref="Sequential{T}"/>/<see cref="Dense{T}"/>, <see cref="PcGradCombiner{T}"/>, <see cref="GradientClipper{T}"/>,
/// <see cref="Adam{T}"/> — exactly the sequence <c>Engine.TrainingStep</c> runs. Used to profile those parts and
/// to compare the two ways of getting per-task trunk gradients (<see cref="PerTaskBackward"/>).
/// <para>Step: zero the gradients; forward (trunk, each head, each task's loss); <b>sum</b>: backward of Σᵢ Lᵢ;
/// <b>pcgrad</b>: each task's trunk gradient into row i of a [tasks × trunk] buffer, PCGrad of the rows into the
/// trunk's window of the flat gradient buffer (the heads keep their own gradients); then clip at 1.0 and Adam.</para>
/// </summary>
public sealed class DirectStep : IStepRunner
{
    private readonly Workload _workload;
    private readonly StepVariant _variant;
    private readonly PerTaskBackward _perTask;
    private readonly Backend<float> _backend;
    private readonly FlatParameters<float> _parameters;
    private readonly Sequential<float> _trunk;
    private readonly Dense<float>[] _heads;
    private readonly Tape<float> _tape;
    private readonly Adam<float> _adam;
    private readonly GradientClipper<float> _clipper;
    private readonly PcGradCombiner<float> _pcGrad;
    private readonly DeviceBuffer<float> _x, _taskWeights, _rows;
    private readonly DeviceBuffer<float>?[] _targets;
    private readonly DeviceBuffer<int>?[] _labels;
    private readonly Tensor<float>[] _losses;
    private readonly Tensor<float> _weights;

    /// <summary>Builds the model (PyTorch's default initialization, seeded), a random batch, and the optimizer parts.</summary>
    public DirectStep(Workload workload, StepVariant variant, Backend<float> backend, PerTaskBackward perTask = PerTaskBackward.Stacked, ulong seed = 0)
    {
        _workload = workload;
        _variant = variant;
        _perTask = perTask;
        _backend = backend;
        _parameters = new FlatParameters<float>(backend);
        _trunk = Sequential<float>.Mlp(_parameters, "trunk", workload.Inputs, workload.Trunk, Activation.Relu, Activation.Relu);
        _heads = [.. workload.Heads.Select((h, i) => new Dense<float>(_parameters, $"heads.{i}", workload.Width, h.Outputs))];
        _parameters.Allocate();
        _trunk.Initialize(Initializer.PyTorchDefault, seed);
        for (int i = 0; i < _heads.Length; i++) _heads[i].Initialize(Initializer.PyTorchDefault, seed + 1000 + (ulong)i);
        backend.Fill(_parameters.Gradients, 0f);

        var random = new Random((int)seed + 7);
        float[] Uniform(int n, float scale) => [.. Enumerable.Range(0, n).Select(_ => (float)(random.NextDouble() * 2 - 1) * scale)];
        int batch = workload.Batch;
        _x = backend.Allocate<float>(Uniform(batch * workload.Inputs, 1.7f));
        _targets = new DeviceBuffer<float>?[workload.Tasks];
        _labels = new DeviceBuffer<int>?[workload.Tasks];
        for (int i = 0; i < workload.Tasks; i++)
        {
            var head = workload.Heads[i];
            if (head.Kind == HeadKind.Regression) _targets[i] = backend.Allocate<float>(Uniform(batch * head.Outputs, 1f));
            else _labels[i] = Labels.Upload(backend, [.. Enumerable.Range(0, batch).Select(_ => random.Next(head.Outputs))], head.Outputs);
        }
        _taskWeights = backend.Allocate<float>(Enumerable.Repeat(1f, workload.Tasks).ToArray());
        _weights = new Tensor<float>(_taskWeights.View, 1, workload.Tasks, name: "task_weights");
        _rows = backend.Allocate<float>(variant == StepVariant.PcGrad ? workload.Tasks * _trunk.Parameters.Length : 1);
        _losses = new Tensor<float>[workload.Tasks];
        _tape = new Tape<float>(backend);
        _adam = new Adam<float>(backend, _parameters, new AdamOptions { LearningRate = 1e-3 });
        _clipper = new GradientClipper<float>(backend, _parameters, _adam.Control);
        _pcGrad = new PcGradCombiner<float>(backend, workload.Tasks, seed: (int)seed);
    }

    /// <inheritdoc/>
    public string Implementation => _variant == StepVariant.Sum
        ? "Autodiff + Optimizers, driven directly"
        : $"Autodiff + Optimizers, driven directly ({(_perTask == PerTaskBackward.Stacked ? "stacked" : "separate")} per-task trunk backward)";

    /// <summary>The model's parameters (flat buffers).</summary>
    public FlatParameters<float> Parameters => _parameters;

    /// <inheritdoc/>
    public void Run()
    {
        var tape = _tape;
        var trunkGroup = _trunk.Parameters;
        tape.Reset();
        if (_variant == StepVariant.Sum) _backend.Fill(_parameters.Gradients, 0f);
        else _backend.Fill(_parameters.Gradients.Slice(trunkGroup.Offset + trunkGroup.Length), 0f); // the trunk's window is overwritten by PCGrad

        int batch = _workload.Batch;
        var x = tape.Input(_x.View, batch, _workload.Inputs, "x");
        var z = _trunk.Forward(tape, x);
        for (int i = 0; i < _heads.Length; i++)
        {
            var y = _heads[i].Forward(tape, z);
            _losses[i] = _targets[i] is { } target
                ? tape.Mse(y, tape.Input(target.View, batch, y.Cols, "target"))
                : tape.SoftmaxCrossEntropy(y, new Labels(_labels[i]!.View));
        }

        if (_variant == StepVariant.Sum)
            tape.Backward(tape.WeightedSum(_weights, _losses));
        else
        {
            int shared = trunkGroup.Length;
            if (_perTask == PerTaskBackward.Stacked)
                tape.BackwardPerTask(_losses, z, trunkGroup, _rows.View, _taskWeights.View);
            else
            {
                _backend.Fill(_rows.View, 0f);
                for (int i = 0; i < _losses.Length; i++)
                    tape.Backward(_losses[i], trunkGroup, _rows.Slice(i * shared, shared), _taskWeights.Slice(i, 1));
            }
            _pcGrad.Combine(_rows.View, _losses.Length, _taskWeights.View, _parameters.Gradients.Slice(trunkGroup.Offset, shared));
        }
        _clipper.Clip(1.0);
        _adam.Step();
        _backend.Synchronize();
    }

    /// <inheritdoc/>
    public void Dispose()
    {
        _pcGrad.Dispose();
        _clipper.Dispose();
        _adam.Dispose();
        _tape.Dispose();
        _rows.Dispose();
        _taskWeights.Dispose();
        _x.Dispose();
        foreach (var b in _targets) b?.Dispose();
        foreach (var b in _labels) b?.Dispose();
        _parameters.Dispose();
    }
}
