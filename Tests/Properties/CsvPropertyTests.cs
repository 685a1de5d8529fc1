using System.Globalization;
using System.Text;
using CsCheck;
using Engine.Data;
using Engine.Tests.Data;

namespace Engine.Tests.Properties;

/// <summary>
/// Property tests of the CSV reader (CsCheck; seeded, a fixed number of iterations, one thread):
/// random valid tables — numbers in shortest round-trip form, categories holding commas, quotes, line breaks and non-ASCII
/// text — are read back exactly; random corruptions of such files (a byte replaced, inserted or deleted, the file cut)
/// either still read or fail with a <see cref="DataFileException"/> naming the file, never with another exception.
/// </summary>
public class CsvPropertyTests : IDisposable
{
    internal const int RoundTrips = 150, Corruptions = 300;
    private readonly TempDirectory _dir = new();

    public void Dispose() => _dir.Dispose();

    internal sealed record Table(string[] Numeric, string[] Categorical, float[][] Numbers, string[][] Labels, char Delimiter)
    {
        public int Rows => Numbers.Length;

        public string ToCsv()
        {
            var text = new StringBuilder();
            Line(text, [.. Numeric, .. Categorical]);
            for (int r = 0; r < Rows; r++)
                Line(text, [.. Numbers[r].Select(v => v.ToString("R", CultureInfo.InvariantCulture)), .. Labels[r]]);
            return text.ToString();
        }

        private void Line(StringBuilder text, string[] fields)
        {
            for (int i = 0; i < fields.Length; i++)
            {
                if (i > 0) text.Append(Delimiter);
                var f = fields[i];
                if (f.IndexOfAny([Delimiter, '"', '\n', '\r', ',', ';', '\t', '|']) >= 0) text.Append('"').Append(f.Replace("\"", "\"\"")).Append('"');
                else text.Append(f);
            }
            text.Append('\n');
        }
    }

    /// <summary>Category text: letters, digits, separators, quotes, a line break, accents, CJK. Never empty, never padded
    /// with spaces (the reader trims fields), never a missing-value marker.</summary>
    private static readonly Gen<string> Label = Gen.String[Gen.Char["abcXYZ019 ,;|\"\n'éü漢-_"], 1, 8]
        .Select(s => "c" + s.Trim() + "k")
        .Where(s => !CsvTable.MissingMarkers.Contains(s, StringComparer.OrdinalIgnoreCase));

    private static readonly Gen<float> Number = Gen.OneOf(
        Gen.Int[-1000, 1000].Select(i => (float)i),
        Gen.Float.Where(float.IsFinite),
        Gen.Int[-100000, 100000].Select(i => i / 1024f));

    internal static readonly Gen<Table> Tables =
        from numeric in Gen.Int[1, 3]
        from categorical in Gen.Int[0, 2]
        from rows in Gen.Int[1, 12]
        from delimiter in Gen.Char[",;\t|"]
        from numbers in Number.Array[numeric].Array[rows]
        from labels in Label.Array[categorical].Array[rows]
        select new Table(
            Enumerable.Range(0, numeric).Select(i => $"n{i}").ToArray(),
            Enumerable.Range(0, categorical).Select(i => $"c {i}").ToArray(),
            numbers, labels, delimiter);

    private string Write(string name, byte[] bytes)
    {
        var path = _dir.File_(name);
        File.WriteAllBytes(path, bytes);
        return path;
    }

    [Fact]
    public void Random_valid_tables_read_back_exactly()
    {
        int file = 0;
        Tables.Sample(table =>
        {
            var path = Write($"t{file++}.csv", Encoding.UTF8.GetBytes(table.ToCsv()));
            var schema = new TableSchema(table.Numeric, table.Categorical, []);
            var data = CsvTable.Load(path, schema, table.Delimiter);
            Assert.Equal(table.Rows, data.RowCount);
            for (int r = 0; r < table.Rows; r++)
            {
                var row = data.InputRow(r);
                for (int j = 0; j < table.Numeric.Length; j++)
                    Assert.Equal(BitConverter.SingleToInt32Bits(table.Numbers[r][j] == 0 ? 0f : table.Numbers[r][j]),
                        BitConverter.SingleToInt32Bits(row[j] == 0 ? 0f : row[j]));   // exact (−0 and 0 both read as a zero)
                int slot = table.Numeric.Length;
                for (int c = 0; c < table.Categorical.Length; c++)
                {
                    var vocabulary = data.Encoding.Categories[table.Categorical[c]];
                    int hot = -1;
                    for (int v = 0; v < vocabulary.Count; v++) if (row[slot + v] == 1f) hot = v;
                    Assert.Equal(table.Labels[r][c], vocabulary.LabelOf(hot));
                    slot += vocabulary.Count;
                }
            }
        }, seed: "0N0XIzNsQ0O2", iter: RoundTrips, threads: 1);
    }

    internal enum Damage { Replace, Insert, Delete, Cut }

    private static readonly byte[] Special = "\",;\n\r\t|"u8.ToArray();

    [Fact]
    public void Random_corruptions_read_or_fail_with_a_DataFileException()
    {
        var corrupted =
            from table in Tables
            from damage in Gen.Enum<Damage>()
            from position in Gen.Double[0, 1]
            from value in Gen.OneOf(Gen.Byte, Gen.Int[0, Special.Length - 1].Select(i => Special[i]), Gen.Byte[0x80, 0xFF])
            select (table, damage, position, value);
        int file = 0;
        corrupted.Sample((table, damage, position, value) =>
        {
            var bytes = Encoding.UTF8.GetBytes(table.ToCsv()).ToList();
            int at = Math.Min(bytes.Count - 1, (int)(position * bytes.Count));
            switch (damage)
            {
                case Damage.Replace: bytes[at] = value; break;
                case Damage.Insert: bytes.Insert(at, value); break;
                case Damage.Delete: bytes.RemoveAt(at); break;
                case Damage.Cut: bytes.RemoveRange(at, bytes.Count - at); break;
            }
            var path = Write($"c{file++}.csv", [.. bytes]);
            var schema = new TableSchema(table.Numeric, table.Categorical, []);
            try
            {
                var data = CsvTable.Load(path, schema, table.Delimiter);
                // It read: then it is a well-formed table of the schema's shape, finite numbers only.
                Assert.Equal(table.Numeric.Length + table.Categorical.Sum(c => data.Encoding.Categories[c].Count), data.InputCount);
                Assert.All(data.Inputs, v => Assert.True(float.IsFinite(v)));
            }
            catch (DataFileException e)
            {
                Assert.StartsWith(path, e.Message);
                Assert.InRange(e.Message.Length, 1, 2000);
            }
        }, seed: "0N0XIzNsQ0O3", iter: Corruptions, threads: 1);
    }
}
