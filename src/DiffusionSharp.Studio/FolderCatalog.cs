using Microsoft.AspNetCore.Http;

namespace DiffusionSharp.Studio;

/// <summary>
/// The folders directly under one configured root (the models, or the runs) that the studio offers, each known by its
/// folder name as its id. A client names an id, never a path: an id that is not a plain name, not a listed folder, or
/// a folder that is (or holds) a symbolic link out of the root is refused.
/// </summary>
public sealed class FolderCatalog
{
    private readonly Func<string, bool> _qualifies;

    /// <summary>A catalog of the subfolders of <paramref name="root"/> for which <paramref name="qualifies"/> holds.</summary>
    /// <param name="root">The configured folder; it need not exist (the catalog is then empty).</param>
    /// <param name="what">What the folders are, for messages and as the request field ("model", "run").</param>
    /// <param name="qualifies">Whether a folder is one of the kind offered (e.g. a diffusers model folder).</param>
    public FolderCatalog(string root, string what, Func<string, bool> qualifies)
    {
        Root = SafePaths.Resolve(root);
        What = what;
        _qualifies = qualifies;
    }

    /// <summary>The root, with symbolic links resolved.</summary>
    public string Root { get; }

    /// <summary>What the folders are ("model", "run"): the request field that carries an id.</summary>
    public string What { get; }

    /// <summary>The ids offered, sorted: plain-named subfolders that qualify and lie inside the root.</summary>
    public IReadOnlyList<string> Ids()
    {
        if (!Directory.Exists(Root)) return [];
        return Directory.EnumerateDirectories(Root)
            .Select(Path.GetFileName)
            .OfType<string>()
            .Where(SafePaths.IsPlainName)
            .Where(id => SafePaths.IsInside(Root, Path.Combine(Root, id)) && _qualifies(Path.Combine(Root, id)))
            .Order(StringComparer.Ordinal)
            .ToList();
    }

    /// <summary>The folder of <paramref name="id"/>.</summary>
    /// <param name="id">A name from <see cref="Ids"/>.</param>
    /// <param name="checkContents">Also refuse the folder when any entry inside it links out of the root (for folders read by library code).</param>
    /// <exception cref="StudioRequestException">400 not a plain name; 404 no such folder; 403 a link out of the root.</exception>
    public string Folder(string? id, bool checkContents = false)
    {
        if (string.IsNullOrEmpty(id)) throw StudioRequestException.BadValue(What, " is required");
        if (!SafePaths.IsPlainName(id))
            throw StudioRequestException.BadValue(What, $": '{Shorten(id)}' is not an id from the list (a folder name: letters, digits, '.', '_', '-'; no paths)");
        string folder = Path.Combine(Root, id);
        if (!Directory.Exists(folder)) throw new StudioRequestException(StatusCodes.Status404NotFound, $"{What}: no {What} '{id}'", What);
        if (!SafePaths.IsInside(Root, folder))
            throw new StudioRequestException(StatusCodes.Status403Forbidden, $"{What}: '{id}' links outside the {What}s folder", What);
        if (!_qualifies(folder)) throw new StudioRequestException(StatusCodes.Status404NotFound, $"{What}: '{id}' is not a {What} folder", What);
        if (checkContents && SafePaths.FirstLinkOutside(Root, folder) is { } link)
            throw new StudioRequestException(StatusCodes.Status403Forbidden,
                $"{What}: '{id}' holds a link outside the {What}s folder ({Path.GetRelativePath(folder, link)})", What);
        return folder;
    }

    /// <summary>A file inside the folder of <paramref name="id"/>, or null when it does not exist.</summary>
    /// <param name="id">A name from <see cref="Ids"/>.</param>
    /// <param name="relative">Path segments inside the folder, each a plain name.</param>
    /// <exception cref="StudioRequestException">As <see cref="Folder"/>; 403 when the file links out of the root.</exception>
    public string? File(string id, params string[] relative)
    {
        string folder = Folder(id);
        if (relative.Any(r => !SafePaths.IsPlainName(r))) throw new ArgumentException("expected plain names", nameof(relative));
        string path = Path.Combine([folder, .. relative]);
        if (!System.IO.File.Exists(path)) return null;
        if (!SafePaths.IsInside(Root, path))
            throw new StudioRequestException(StatusCodes.Status403Forbidden, $"{What}: '{id}/{string.Join('/', relative)}' links outside the {What}s folder", What);
        return path;
    }

    private static string Shorten(string s) => s.Length <= 60 ? s : s[..60] + "…";
}
