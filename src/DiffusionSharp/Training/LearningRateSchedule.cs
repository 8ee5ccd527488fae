namespace DiffusionSharp.Training;

/// <summary>The learning rate at each step: linear warm-up, then constant or cosine decay (diffusers' get_scheduler shapes).</summary>
public static class LearningRateSchedule
{
    /// <summary>The rate for optimizer step <paramref name="step"/> (0-based) of <paramref name="totalSteps"/>.</summary>
    public static double At(int step, int totalSteps, double peak, int warmupSteps, LearningRateDecay decay)
    {
        if (step < warmupSteps) return peak * (step + 1) / warmupSteps;
        if (decay == LearningRateDecay.Constant) return peak;
        double progress = (double)(step - warmupSteps) / Math.Max(1, totalSteps - warmupSteps);
        return peak * 0.5 * (1 + Math.Cos(Math.PI * Math.Min(1.0, progress)));
    }
}
