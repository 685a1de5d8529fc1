namespace Engine;

/// <summary>
/// One categorical input column embedded by the model (<c>--embed COL[:DIM]</c>): its index column (one of the last
/// <see cref="ModelSpec.Embeddings"/>.Count columns of the input, in this order) holds the category's index in the column's
/// training vocabulary (<see cref="Data.DataEncoding.Categories"/>), or <see cref="Categories"/> for a category the training
/// split never had; its table <c>embeddings.{t}.weight</c> is [(<see cref="Categories"/> + 1) × <see cref="Dim"/>], the last
/// row reserved for unseen categories. Docs: docs/maths.md §21.3.
/// </summary>
/// <param name="Column">The CSV column.</param>
/// <param name="Categories">Distinct values of the column on the training split.</param>
/// <param name="Dim">Features per category.</param>
public sealed record EmbeddingSpec(string Column, int Categories, int Dim)
{
    /// <summary>Rows of the table: one per training category, then the row of unseen categories.</summary>
    [System.Text.Json.Serialization.JsonIgnore] public int TableRows => Categories + 1;

    /// <summary>The dimension <c>--embed COL</c> gives a column of <paramref name="categories"/> values when no DIM is named:
    /// fast.ai's rule of thumb <c>min(600, round(1.6·n^0.56))</c> (fastai.tabular.model.emb_sz_rule), n counting the unseen
    /// row too.</summary>
    public static int DefaultDim(int categories) => (int)Math.Min(600, Math.Round(1.6 * Math.Pow(categories + 1, 0.56)));

    internal void Validate(int index)
    {
        if (string.IsNullOrWhiteSpace(Column)) throw new ArgumentException($"ModelSpec.Embeddings[{index}] names no column.", nameof(Column));
        if (Categories <= 0) throw new ArgumentOutOfRangeException(nameof(Categories), Categories, $"ModelSpec.Embeddings[{index}] ('{Column}'): the vocabulary must hold at least one category.");
        if (Dim <= 0) throw new ArgumentOutOfRangeException(nameof(Dim), Dim, $"ModelSpec.Embeddings[{index}] ('{Column}'): the dimension (--embed {Column}:DIM) must be positive.");
    }
}
