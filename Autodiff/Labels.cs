using Engine.Kernels;

namespace Engine.Autodiff;

/// <summary>
/// Class-index targets for softmax cross-entropy: one int per row, on the device.
/// The range check (0 ≤ label &lt; classes) needs the host values, so it happens where labels enter the
/// engine (<see cref="Validate"/>, called by whoever uploads them), never inside a step.
/// </summary>
public readonly struct Labels
{
    /// <summary>Wraps a device view of class indices.</summary>
    public Labels(View<int> values) => Values = values;

    /// <summary>The class indices.</summary>
    public View<int> Values { get; }

    /// <summary>Number of labels (rows).</summary>
    public int Length => Values.Length;

    /// <summary>Throws, naming the first offending row, unless every label lies in [0, classes).</summary>
    public static void Validate(ReadOnlySpan<int> labels, int classes, string name = "labels")
    {
        Check.Positive(classes, nameof(classes));
        for (int i = 0; i < labels.Length; i++)
            if ((uint)labels[i] >= (uint)classes)
                throw new ArgumentOutOfRangeException(name, labels[i], $"{name}[{i}] = {labels[i]} is not a class index in [0, {classes}).");
    }

    /// <summary>Validates host labels and uploads them into a new device buffer (setup and tests; allocates).</summary>
    public static DeviceBuffer<int> Upload(Backend backend, ReadOnlySpan<int> labels, int classes, string name = "labels")
    {
        ArgumentNullException.ThrowIfNull(backend);
        Validate(labels, classes, name);
        return backend.Allocate(labels);
    }
}
