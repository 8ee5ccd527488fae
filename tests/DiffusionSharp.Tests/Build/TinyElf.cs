using System.Buffers.Binary;
using System.Text;

namespace DiffusionSharp.Tests.Build;

/// <summary>
/// Builds a minimal little-endian ELF64 shared object in memory with a .dynstr, a .gnu.version_r that needs
/// the given versions of one library, and a .shstrtab: just the parts the version patcher reads.
/// </summary>
internal static class TinyElf
{
    public static byte[] Build(string library, params (string Version, ushort Flags)[] needs)
    {
        // .dynstr: "\0" library "\0" versions...
        var dynstr = new List<byte> { 0 };
        int AddString(List<byte> table, string s)
        {
            int at = table.Count;
            table.AddRange(Encoding.ASCII.GetBytes(s));
            table.Add(0);
            return at;
        }
        int libAt = AddString(dynstr, library);
        var versionAt = needs.Select(n => AddString(dynstr, n.Version)).ToArray();

        // .gnu.version_r: one Verneed (16 bytes) followed by its Vernaux entries (16 bytes each)
        var verneed = new byte[16 + 16 * needs.Length];
        BinaryPrimitives.WriteUInt16LittleEndian(verneed.AsSpan(0), 1);
        BinaryPrimitives.WriteUInt16LittleEndian(verneed.AsSpan(2), (ushort)needs.Length);
        BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(4), (uint)libAt);
        BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(8), 16);
        BinaryPrimitives.WriteUInt32LittleEndian(verneed.AsSpan(12), 0);
        for (int i = 0; i < needs.Length; i++)
        {
            var a = verneed.AsSpan(16 + 16 * i);
            BinaryPrimitives.WriteUInt32LittleEndian(a, DiffusionSharp.Build.ElfFile.ElfHash(needs[i].Version));
            BinaryPrimitives.WriteUInt16LittleEndian(a[4..], needs[i].Flags);
            BinaryPrimitives.WriteUInt16LittleEndian(a[6..], (ushort)(2 + i));
            BinaryPrimitives.WriteUInt32LittleEndian(a[8..], (uint)versionAt[i]);
            BinaryPrimitives.WriteUInt32LittleEndian(a[12..], i == needs.Length - 1 ? 0u : 16u);
        }

        var shstr = new List<byte> { 0 };
        int nDynstr = AddString(shstr, ".dynstr"), nVerneed = AddString(shstr, ".gnu.version_r"), nShstr = AddString(shstr, ".shstrtab");

        // Layout: ELF header (64) | .dynstr | .gnu.version_r (8-aligned) | .shstrtab | section headers (8-aligned)
        int dynstrOff = 64;
        int verneedOff = Align(dynstrOff + dynstr.Count, 8);
        int shstrOff = verneedOff + verneed.Length;
        int shoff = Align(shstrOff + shstr.Count, 8);
        const int shnum = 4;
        var file = new byte[shoff + shnum * 64];
        var f = file.AsSpan();
        "\u007fELF"u8.CopyTo(f);
        f[4] = 2; f[5] = 1; f[6] = 1;
        BinaryPrimitives.WriteUInt16LittleEndian(f[0x10..], 3); // ET_DYN
        BinaryPrimitives.WriteUInt16LittleEndian(f[0x12..], 62); // EM_X86_64
        BinaryPrimitives.WriteUInt32LittleEndian(f[0x14..], 1);
        BinaryPrimitives.WriteUInt64LittleEndian(f[0x28..], (ulong)shoff);
        BinaryPrimitives.WriteUInt16LittleEndian(f[0x34..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(f[0x3A..], 64);
        BinaryPrimitives.WriteUInt16LittleEndian(f[0x3C..], shnum);
        BinaryPrimitives.WriteUInt16LittleEndian(f[0x3E..], 3);
        dynstr.ToArray().CopyTo(f[dynstrOff..]);
        verneed.CopyTo(f[verneedOff..]);
        shstr.ToArray().CopyTo(f[shstrOff..]);
        void Section(int index, int name, uint type, int offset, int size, uint link, uint info)
        {
            var s = file.AsSpan(shoff + index * 64);
            BinaryPrimitives.WriteUInt32LittleEndian(s, (uint)name);
            BinaryPrimitives.WriteUInt32LittleEndian(s[4..], type);
            BinaryPrimitives.WriteUInt64LittleEndian(s[0x18..], (ulong)offset);
            BinaryPrimitives.WriteUInt64LittleEndian(s[0x20..], (ulong)size);
            BinaryPrimitives.WriteUInt32LittleEndian(s[0x28..], link);
            BinaryPrimitives.WriteUInt32LittleEndian(s[0x2C..], info);
        }
        Section(1, nDynstr, 3, dynstrOff, dynstr.Count, 0, 0);
        Section(2, nVerneed, DiffusionSharp.Build.ElfFile.ShtGnuVerneed, verneedOff, verneed.Length, 1, 1);
        Section(3, nShstr, 3, shstrOff, shstr.Count, 0, 0);
        return file;
    }

    private static int Align(int x, int a) => (x + a - 1) / a * a;
}
