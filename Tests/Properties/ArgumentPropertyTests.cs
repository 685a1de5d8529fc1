using System.CommandLine;
using System.Globalization;
using CsCheck;
using Engine.Cli;
using Engine.Cli.Commands;

namespace Engine.Tests.Properties;

/// <summary>
/// Property tests of the argument parser (CsCheck; seeded, fixed iterations, one thread): random valid <c>mtl train</c>
/// flag sets — numbers in any round-trip spelling, column names holding commas, quotes, spaces and non-ASCII letters,
/// quoted or escaped — bind to exactly the values written; random token soups made of real flags, their values and
/// garbage end as parse errors or a <see cref="UsageException"/>, never another exception.
/// </summary>
public class ArgumentPropertyTests
{
    internal const int RoundTrips = 300, Soups = 1000;

    /// <summary>Parses and binds as <c>mtl train</c> does, without running anything.</summary>
    private static (ParseResult Parsed, Engine.Experiments.ExperimentSettings? Settings) Bind(string[] args)
    {
        var flags = new TrainFlags();
        var command = new Command("train");
        flags.AddTo(command);
        var parsed = command.Parse(args);
        return (parsed, parsed.Errors.Count == 0 ? flags.Bind(parsed) : null);
    }

    private static readonly Gen<string> ColumnName = Gen.String[Gen.Char["abcXY09 ,\"\\é漢_-"], 1, 10]
        .Select(s => "k" + s.Trim() + "z");

    /// <summary>A name as the command line writes it: quoted ("" for a quote) or, when it has no quote, escaped.</summary>
    private static string Spell(string name, bool quote) => quote || name.Contains('"')
        ? "\"" + name.Replace("\"", "\"\"") + "\""
        : name.Replace("\\", "\\\\").Replace(",", "\\,");

    [Fact]
    public void Random_valid_flags_bind_to_the_values_written()
    {
        var gen =
            from lr in Gen.Double[1e-6, 10]
            from epochs in Gen.Int[1, 100000]
            from hidden in Gen.Int[1, 512].Array[1, 4]
            from seed in Gen.ULong
            from validation in Gen.Double[0, 0.45]
            from names in ColumnName.Array[1, 4]
            from quote in Gen.Bool
            from exponent in Gen.Bool
            select (lr, epochs, hidden, seed, validation, names.Distinct().ToArray(), quote, exponent);
        gen.Sample((lr, epochs, hidden, seed, validation, names, quote, exponent) =>
        {
            string Number(double v) => v.ToString(exponent ? "E17" : "R", CultureInfo.InvariantCulture);
            var args = new[]
            {
                "--lr", Number(lr), "--epochs", epochs.ToString(CultureInfo.InvariantCulture),
                "--hidden", string.Join(',', hidden), "--seed", seed.ToString(CultureInfo.InvariantCulture),
                "--validation", Number(validation), "--inputs", string.Join(',', names.Select(n => Spell(n, quote))),
            };
            var (parsed, s) = Bind(args);
            Assert.Empty(parsed.Errors);
            Assert.Equal(lr, s!.Step.LearningRate);
            Assert.Equal(epochs, s.Epochs);
            Assert.Equal(hidden, s.Hidden);
            Assert.Equal(seed, s.Seed);
            Assert.Equal(validation, s.ValidationFraction);
            Assert.Equal(names, s.Inputs);
        }, seed: "0N0XIzNsQ0O6", iter: RoundTrips, threads: 1);
    }

    private static readonly string[] Flags =
        ["--lr", "--epochs", "--hidden", "--seed", "--validation", "--test", "--inputs", "--regression", "--task-weight", "--head-lr",
         "--optimizer", "--schedule", "--gamma", "--clip", "--combine", "--weighting", "--batch-size", "--patience", "--momentum",
         "--nesterov", "--dampening", "--beta1", "--eps", "--delimiter", "--encoding", "--activation", "--warmup", "--decay-steps"];

    private static readonly string[] Values =
        ["0", "-1", "1e400", "NaN", "-0", "0.5", "1", "2", "64,64", ",", "\"", "\"a,b", "a\\", "x=1", "x=", "=1", "x=NaN", "adam",
         "sgd", "cosine", "pcgrad", "accuracy", "tab", "latin1", "utf-99", "", " ", "99999999999999999999", "1,0", "é", "--", "-"];

    [Fact]
    public void Random_token_soups_end_in_a_parse_error_or_a_usage_exception()
    {
        var token = Gen.OneOf(Gen.Int[0, Flags.Length - 1].Select(i => Flags[i]), Gen.Int[0, Values.Length - 1].Select(i => Values[i]),
            Gen.String[Gen.Char["-=,.0123456789eE\"\\ab"], 0, 6]);
        token.Array[0, 8].Sample(args =>
        {
            try
            {
                var (parsed, _) = Bind(args);
                if (parsed.Errors.Count > 0) Assert.All(parsed.Errors, e => Assert.False(string.IsNullOrWhiteSpace(e.Message)));
            }
            catch (UsageException e)
            {
                Assert.False(string.IsNullOrWhiteSpace(e.Message));
                Assert.StartsWith("--", e.Message); // it names the flag
            }
        }, seed: "0N0XIzNsQ0O7", iter: Soups, threads: 1);
    }
}
