using System.Globalization;

namespace Engine.Data;

/// <summary>
/// A bijection between the distinct values of a column (class labels, or the categories of a one-hot input)
/// and the indices 0…Count−1.
/// <para>Order: when every value is an integer (e.g. wine quality 3…9) the map is an <i>integer</i> map, sorted
/// by numeric value, and values are stored in canonical form (<c>"07"</c> and <c>"7"</c> are the same label
/// <c>"7"</c>). Otherwise values are sorted by ordinal (culture-free, case-sensitive) string order. The order
/// depends only on the set of values, never on the order rows appear in the file.</para>
/// </summary>
public sealed class LabelMap
{
    private readonly string[] _labels;
    private readonly Dictionary<string, int> _index;

    /// <summary>The labels, index i holding the label of class i.</summary>
    public IReadOnlyList<string> Labels => _labels;

    /// <summary>Whether the labels are integers (sorted numerically).</summary>
    public bool IsInteger { get; }

    /// <summary>The number of classes.</summary>
    public int Count => _labels.Length;

    /// <summary>Creates a map whose class i is <paramref name="labels"/>[i]; labels must be distinct. Integer
    /// maps are detected (all labels integers in canonical form) but the given order is kept.</summary>
    public LabelMap(IEnumerable<string> labels)
    {
        ArgumentNullException.ThrowIfNull(labels);
        _labels = labels.ToArray();
        if (_labels.Length == 0) throw new ArgumentException("A label map needs at least one label.", nameof(labels));
        IsInteger = _labels.All(l => TryInteger(l, out var v) && Canonical(v) == l);
        _index = new Dictionary<string, int>(_labels.Length, StringComparer.Ordinal);
        for (int i = 0; i < _labels.Length; i++)
            if (!_index.TryAdd(_labels[i], i)) throw new ArgumentException($"Label '{_labels[i]}' appears twice.", nameof(labels));
    }

    /// <summary>Builds the map of the distinct values seen, in the documented sorted order.</summary>
    public static LabelMap Fit(IEnumerable<string> values)
    {
        var distinct = values.Select(v => v.Trim()).Distinct(StringComparer.Ordinal).ToList();
        if (distinct.Count > 0 && distinct.All(v => TryInteger(v, out _)))
            return new LabelMap(distinct.Select(v => { TryInteger(v, out var n); return n; }).Distinct().Order().Select(Canonical));
        distinct.Sort(StringComparer.Ordinal);
        return new LabelMap(distinct);
    }

    /// <summary>The index of a label (integer maps accept any spelling of the integer), or false if unseen.</summary>
    public bool TryGetIndex(string label, out int index)
    {
        var key = label.Trim();
        if (IsInteger && TryInteger(key, out var n)) key = Canonical(n);
        return _index.TryGetValue(key, out index);
    }

    /// <summary>The index of a label; throws <see cref="KeyNotFoundException"/> naming the known labels if unseen.</summary>
    public int IndexOf(string label) =>
        TryGetIndex(label, out var i) ? i : throw new KeyNotFoundException($"Label '{label}' is not one of {Describe()}.");

    /// <summary>The label of class <paramref name="index"/>.</summary>
    public string LabelOf(int index) =>
        (uint)index < (uint)_labels.Length ? _labels[index]
            : throw new ArgumentOutOfRangeException(nameof(index), index, $"Class index must be in [0, {_labels.Length}).");

    /// <summary>The labels as a short list for messages: <c>{red, white}</c>.</summary>
    public string Describe() => _labels.Length <= 20
        ? "{" + string.Join(", ", _labels) + "}"
        : "{" + string.Join(", ", _labels.Take(20)) + $", … ({_labels.Length} in all)}}";

    private static bool TryInteger(string s, out long value) =>
        long.TryParse(s, NumberStyles.AllowLeadingSign | NumberStyles.AllowLeadingWhite | NumberStyles.AllowTrailingWhite,
            CultureInfo.InvariantCulture, out value);

    private static string Canonical(long value) => value.ToString(CultureInfo.InvariantCulture);
}
