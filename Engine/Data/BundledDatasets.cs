namespace Engine.Data;

/// <summary>
/// The two datasets shipped in <c>data/</c> (UCI, CC BY 4.0; attribution in <c>data/README.md</c>) and
/// their schemas.
/// </summary>
public static class BundledDatasets
{
    /// <summary>File name of the energy-efficiency dataset (768 rows).</summary>
    public const string EnergyEfficiencyFile = "energy_efficiency.csv";

    /// <summary>File name of the wine-quality dataset (6497 rows).</summary>
    public const string WineQualityFile = "wine_quality.csv";

    /// <summary>Tsanas &amp; Xifara (2012): 8 building-shape inputs; two regressions, heating and cooling load.</summary>
    public static TableSchema EnergyEfficiency { get; } = TableSchema.Empty
        .WithNumeric("relative_compactness", "surface_area", "wall_area", "roof_area", "overall_height",
            "orientation", "glazing_area", "glazing_area_distribution")
        .WithRegression("heating_load", "cooling_load");

    /// <summary>Cortez et al. (2009), red and white joined: 11 physico-chemical inputs; quality (3…9) as a
    /// 7-class classification and color (red/white) as a 2-class classification.</summary>
    public static TableSchema WineQuality { get; } = TableSchema.Empty
        .WithNumeric("fixed_acidity", "volatile_acidity", "citric_acid", "residual_sugar", "chlorides",
            "free_sulfur_dioxide", "total_sulfur_dioxide", "density", "ph", "sulphates", "alcohol")
        .WithClassification("quality", "color");

    /// <summary>Wine with quality as a regression target instead (color stays a classification).</summary>
    public static TableSchema WineQualityRegression { get; } = new(WineQuality.NumericInputs, [],
        [TaskSpec.Regression("quality"), TaskSpec.Classification("color")]);
}
