using static TorchSharp.torch;

namespace DiffusionSharp.Samplers;

/// <summary>
/// The last few tensors a multistep sampler keeps between steps (converted model outputs, or LMS's derivatives), newest
/// last, and how many steps of the run have added to them, capped at the capacity (diffusers' <c>lower_order_nums</c>).
/// It owns the tensors: they leave the step's dispose scope when added and are disposed when dropped or cleared.
/// </summary>
internal sealed class OutputHistory(int capacity)
{
    private readonly Tensor?[] _items = new Tensor?[capacity];

    /// <summary>How many steps of this run have been counted, at most the capacity.</summary>
    public int Steps { get; private set; }

    /// <summary>How many tensors it holds now.</summary>
    public int Count => _items.Count(t => t is not null);

    /// <summary>How many tensors it can hold.</summary>
    public int Capacity => _items.Length;

    /// <summary>Adds the newest tensor (taking it over), dropping the oldest.</summary>
    public void Add(Tensor item)
    {
        _items[0]?.Dispose();
        for (int k = 0; k < _items.Length - 1; k++) _items[k] = _items[k + 1];
        _items[^1] = item.DetachFromDisposeScope();
    }

    /// <summary>The tensor <paramref name="stepsBack"/> additions before the newest one (0: the newest).</summary>
    public Tensor this[int stepsBack] => _items[^(stepsBack + 1)]
        ?? throw new InvalidOperationException($"no tensor {stepsBack} steps back");

    /// <summary>Counts a step towards <see cref="Steps"/>.</summary>
    public void CountStep()
    {
        if (Steps < _items.Length) Steps++;
    }

    /// <summary>Disposes every tensor and restarts the count.</summary>
    public void Clear()
    {
        for (int k = 0; k < _items.Length; k++)
        {
            _items[k]?.Dispose();
            _items[k] = null;
        }
        Steps = 0;
    }
}
