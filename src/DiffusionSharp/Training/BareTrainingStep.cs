using DiffusionSharp.Conditioning;
using DiffusionSharp.Models;
using TorchSharp;
using TorchSharp.Modules;
using static TorchSharp.torch;

namespace DiffusionSharp.Training;

/// <summary>
/// The least a training step can be, for measuring the trainer's overhead (<see cref="Benchmarks.StepOverhead"/>): on one
/// example drawn beforehand (x_t, target, noise levels, condition), zero the gradients, predict, take the formulation's
/// loss, backward, and an AdamW step with the run's settings, in one dispose scope. No batch, no t or noise, no loss read,
/// no clipping, no EMA. It has an optimizer of its own over the same weights, so it moves them (a benchmark's weights are
/// random anyway) but leaves the trainer's moments alone.
/// </summary>
internal sealed class BareTrainingStep : IDisposable
{
    private readonly IDenoiser _model;
    private readonly IFormulation _formulation;
    private readonly AdamW _optimizer;
    private readonly Tensor _xt, _target, _levels;
    private readonly Condition _condition;

    /// <summary>A bare step on <paramref name="example"/>, whose tensors it takes over (moved out of the current dispose scope).</summary>
    public BareTrainingStep(IDenoiser model, IFormulation formulation, TrainingOptions options,
        (Tensor Xt, Tensor Target, Tensor Levels, Condition Condition) example)
    {
        _model = model;
        _formulation = formulation;
        (_xt, _target, _levels, _condition) = example;
        foreach (var t in new[] { _xt, _target, _levels }.Concat(TensorsOf(_condition))) t.MoveToOuterDisposeScope();
        _optimizer = torch.optim.AdamW(model.Module.parameters(), options.LearningRate, 0.9, 0.999, 1e-8, options.WeightDecay);
    }

    /// <summary>One bare step.</summary>
    public void Run()
    {
        using var scope = torch.NewDisposeScope();
        _optimizer.zero_grad();
        var prediction = _formulation.Predict(_model, _xt, _levels, _condition);
        _formulation.Loss(prediction, _target, _levels).backward();
        _optimizer.step();
    }

    private static IEnumerable<Tensor> TensorsOf(Condition condition) => condition switch
    {
        ClassLabelCondition labels => [labels.Labels],
        EmbeddingCondition { Mask: { } mask } embeddings => [embeddings.Hidden, mask],
        EmbeddingCondition embeddings => [embeddings.Hidden],
        _ => [],
    };

    public void Dispose()
    {
        _optimizer.Dispose();
        _xt.Dispose();
        _target.Dispose();
        _levels.Dispose();
        _condition.Dispose();
    }
}
