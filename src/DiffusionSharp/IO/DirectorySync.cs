using System.Runtime.InteropServices;
using System.Text;

namespace DiffusionSharp.IO;

/// <summary>
/// Flushes a folder's entries to disk (POSIX <c>fsync</c> on the folder). A rename is only durable once the folder that holds
/// it is flushed: without this, a power cut right after a checkpoint was renamed into place can lose the new name even
/// though the file's bytes were flushed. .NET cannot open a folder as a stream, so this calls libc directly; elsewhere
/// (Windows) it does nothing, as NTFS journals renames itself.
/// </summary>
public static class DirectorySync
{
    private const int ReadOnly = 0; // O_RDONLY

    /// <summary>Flushes <paramref name="folder"/>'s entries; best effort: a file system that cannot (some network mounts) is left as is.</summary>
    public static void Flush(string folder)
    {
        if (!OperatingSystem.IsLinux() && !OperatingSystem.IsMacOS()) return;
        var path = Encoding.UTF8.GetBytes(Path.GetFullPath(folder) + "\0");
        int fd;
        try
        {
            fd = open(path, ReadOnly);
        }
        catch (Exception e) when (e is DllNotFoundException or EntryPointNotFoundException)
        {
            return;
        }
        if (fd < 0) return;
        try
        {
            _ = fsync(fd);
        }
        finally
        {
            _ = close(fd);
        }
    }

    [DllImport("libc", SetLastError = true)]
    private static extern int open(byte[] path, int flags);

    [DllImport("libc", SetLastError = true)]
    private static extern int fsync(int fd);

    [DllImport("libc")]
    private static extern int close(int fd);
}
