namespace DiffusionSharp.Data;

/// <summary>
/// Position of a <see cref="BatchLoader"/> (the next batch it will return) plus the settings that define its sequence,
/// so a training checkpoint can store it (it serialises to JSON as is) and resume the exact batch sequence.
/// </summary>
/// <param name="Epoch">Epoch of the next batch, from 0.</param>
/// <param name="BatchIndex">Index of the next batch within that epoch, from 0.</param>
/// <param name="Seed">The loader's seed.</param>
/// <param name="BatchSize">The loader's batch size.</param>
/// <param name="DatasetCount">Number of images in the dataset.</param>
/// <param name="Shuffle">Whether each epoch is shuffled.</param>
/// <param name="DropLast">Whether a last incomplete batch is dropped.</param>
/// <param name="RandomHorizontalFlip">Whether images are flipped at random.</param>
public sealed record BatchLoaderState(
    int Epoch,
    int BatchIndex,
    long Seed,
    int BatchSize,
    int DatasetCount,
    bool Shuffle,
    bool DropLast,
    bool RandomHorizontalFlip);
