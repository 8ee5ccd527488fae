namespace DiffusionSharp.Data;

/// <summary>How a CSV file holds its series.</summary>
public enum TimeSeriesLayout
{
    /// <summary>One series per row, its values left to right.</summary>
    Rows,

    /// <summary>One series per column, its values top to bottom (a header line may name the columns).</summary>
    Columns,
}
