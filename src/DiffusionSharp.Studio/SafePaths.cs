using System.Text.RegularExpressions;

namespace DiffusionSharp.Studio;

/// <summary>
/// Paths the studio reads are built from a configured root and names the client picks from lists; these checks make
/// sure that whatever a client sends, nothing outside the root is read: a name is one plain path segment, and a symbolic
/// link anywhere on the way must resolve inside the root.
/// </summary>
public static partial class SafePaths
{
    /// <summary>Symbolic links followed on one path before it is refused as a loop.</summary>
    private const int MaxLinkHops = 40;

    /// <summary>
    /// Whether <paramref name="name"/> is one plain path segment: letters, digits, '.', '_' and '-', starting with a letter,
    /// digit or '_', at most 128 characters (no '/', no '\', no "..", no absolute path, no hidden file).
    /// </summary>
    public static bool IsPlainName(string? name) => name is not null && PlainName().IsMatch(name) && !name.Contains("..", StringComparison.Ordinal);

    /// <summary>
    /// The path with every symbolic link resolved (as realpath(3) does, for the components that exist; the rest are kept
    /// as they are).
    /// </summary>
    /// <exception cref="IOException">A link loop.</exception>
    public static string Resolve(string path)
    {
        var pending = new Stack<string>(Path.GetFullPath(path).Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse());
        string current = "/";
        int hops = 0;
        while (pending.Count > 0)
        {
            string part = pending.Pop();
            if (part == ".") continue;
            if (part == "..")
            {
                current = Path.GetDirectoryName(current) ?? "/";
                continue;
            }
            string next = Path.Combine(current, part);
            string? target = new FileInfo(next).LinkTarget;
            if (target is null)
            {
                current = next;
                continue;
            }
            if (++hops > MaxLinkHops) throw new IOException($"{path}: too many levels of symbolic links");
            foreach (var p in target.Split('/', StringSplitOptions.RemoveEmptyEntries).Reverse()) pending.Push(p);
            if (Path.IsPathRooted(target)) current = "/";
        }
        return current;
    }

    /// <summary>Whether <paramref name="path"/>, links resolved, is <paramref name="resolvedRoot"/> or lies below it.</summary>
    /// <param name="resolvedRoot">A root already passed through <see cref="Resolve"/>.</param>
    /// <param name="path">Any path.</param>
    public static bool IsInside(string resolvedRoot, string path)
    {
        string real = Resolve(path);
        return real == resolvedRoot || real.StartsWith(resolvedRoot.TrimEnd('/') + "/", StringComparison.Ordinal);
    }

    /// <summary>
    /// The first entry below <paramref name="folder"/> (at most <paramref name="maxEntries"/> entries, <paramref name="maxDepth"/>
    /// levels) that is a symbolic link resolving outside <paramref name="resolvedRoot"/>, or null when there is none.
    /// </summary>
    /// <exception cref="IOException">The folder holds more entries than <paramref name="maxEntries"/>.</exception>
    public static string? FirstLinkOutside(string resolvedRoot, string folder, int maxDepth = 4, int maxEntries = 10_000)
    {
        var options = new EnumerationOptions { RecurseSubdirectories = true, MaxRecursionDepth = maxDepth, IgnoreInaccessible = true, AttributesToSkip = 0 };
        int seen = 0;
        foreach (var entry in new DirectoryInfo(folder).EnumerateFileSystemInfos("*", options))
        {
            if (++seen > maxEntries) throw new IOException($"{folder}: more than {maxEntries} files");
            if (entry.LinkTarget is not null && !IsInside(resolvedRoot, entry.FullName)) return entry.FullName;
        }
        return null;
    }

    [GeneratedRegex(@"^[A-Za-z0-9_][A-Za-z0-9._-]{0,127}$")]
    private static partial Regex PlainName();
}
