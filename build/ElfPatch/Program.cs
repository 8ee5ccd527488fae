using DiffusionSharp.Build;

return PatchCommand.Run(args, Console.Out, Console.Error, () =>
{
    bool defines = VersionWeakener.SystemLibraryDefines(PatchCommand.Library, PatchCommand.Version, out var foundAt);
    return (defines, foundAt);
});
