using System.Buffers.Binary;
using System.Text;

namespace DiffusionSharp.Build;

/// <summary>
/// A strict, read-only view of a little-endian ELF64 file's section table, enough to find and edit the
/// GNU symbol-versioning sections. Anything outside that expectation is rejected with <see cref="InvalidDataException"/>.
/// </summary>
public sealed class ElfFile
{
    public const uint ShtGnuVerdef = 0x6ffffffd;
    public const uint ShtGnuVerneed = 0x6ffffffe;
    public const ushort VerFlgWeak = 0x2;

    private readonly byte[] _bytes;
    private readonly string _path;

    public ElfFile(byte[] bytes, string path)
    {
        _bytes = bytes;
        _path = path;
        if (bytes.Length < 64 || bytes[0] != 0x7f || bytes[1] != (byte)'E' || bytes[2] != (byte)'L' || bytes[3] != (byte)'F')
            throw Bad("not an ELF file (bad magic)");
        if (bytes[4] != 2) throw Bad("not a 64-bit ELF file (EI_CLASS is " + bytes[4] + ")");
        if (bytes[5] != 1) throw Bad("not a little-endian ELF file (EI_DATA is " + bytes[5] + ")");
        if (bytes[6] != 1) throw Bad("unknown ELF version " + bytes[6]);
        ulong shoff = U64(0x28);
        ushort shentsize = U16(0x3A);
        ushort shnum = U16(0x3C);
        ushort shstrndx = U16(0x3E);
        if (shentsize != 64) throw Bad($"unexpected section header size {shentsize} (expected 64)");
        if (shnum == 0) throw Bad("no section headers");
        CheckRange(shoff, (ulong)shnum * 64, "section header table");
        var sections = new ElfSection[shnum];
        for (int i = 0; i < shnum; i++)
        {
            int o = checked((int)shoff + i * 64);
            var s = new ElfSection(i, U32(o), U32(o + 4), U64(o + 0x18), U64(o + 0x20), U32(o + 0x28), U32(o + 0x2C));
            if (s.Type != 8 /* SHT_NOBITS */) CheckRange(s.Offset, s.Size, $"section {i}");
            sections[i] = s;
        }
        Sections = sections;
        if (shstrndx >= shnum) throw Bad($"section name table index {shstrndx} out of range");
        SectionNames = Sections[shstrndx];
    }

    public IReadOnlyList<ElfSection> Sections { get; }
    private ElfSection SectionNames { get; }
    public byte[] Bytes => _bytes;

    public string SectionName(ElfSection s) => CString(SectionNames, s.NameOffset);

    /// <summary>The names of the versions this file defines (.gnu.version_d), e.g. GLIBCXX_3.4.30.</summary>
    public IReadOnlyList<string> DefinedVersions()
    {
        var result = new List<string>();
        foreach (var sec in Sections.Where(s => s.Type == ShtGnuVerdef))
        {
            var strtab = LinkedStrings(sec);
            ulong at = sec.Offset;
            ulong end = sec.Offset + sec.Size;
            for (int n = 0; n < 100_000; n++)
            {
                CheckInside(at, 20, sec, end);
                ushort cnt = U16((int)at + 6);
                uint aux = U32((int)at + 12);
                uint next = U32((int)at + 16);
                if (cnt > 0)
                {
                    CheckInside(at + aux, 8, sec, end);
                    result.Add(CString(strtab, U32((int)(at + aux))));
                }
                if (next == 0) break;
                at += next;
            }
        }
        return result;
    }

    /// <summary>Every version requirement (.gnu.version_r): the needed file and, per version, the byte offset of its flags.</summary>
    public IReadOnlyList<VersionNeed> VersionNeeds()
    {
        var result = new List<VersionNeed>();
        foreach (var sec in Sections.Where(s => s.Type == ShtGnuVerneed))
        {
            var strtab = LinkedStrings(sec);
            ulong end = sec.Offset + sec.Size;
            ulong at = sec.Offset;
            for (uint i = 0; i < Math.Max(sec.Info, 1u); i++)
            {
                CheckInside(at, 16, sec, end);
                ushort version = U16((int)at);
                if (version != 1) throw Bad($"unsupported Verneed version {version}");
                ushort cnt = U16((int)at + 2);
                string file = CString(strtab, U32((int)at + 4));
                uint aux = U32((int)at + 8);
                uint next = U32((int)at + 12);
                ulong a = at + aux;
                for (int j = 0; j < cnt; j++)
                {
                    CheckInside(a, 16, sec, end);
                    string name = CString(strtab, U32((int)a + 8));
                    result.Add(new VersionNeed(file, name, U32((int)a), U16((int)a + 4), (long)a + 4));
                    uint anext = U32((int)a + 12);
                    if (anext == 0 && j != cnt - 1) throw Bad("Vernaux chain ends before vn_cnt entries");
                    a += anext;
                }
                if (next == 0) break;
                at += next;
            }
        }
        return result;
    }

    /// <summary>Sets VER_FLG_WEAK on the requirement at <paramref name="flagsOffset"/> in the in-memory bytes.</summary>
    public void SetWeak(long flagsOffset)
    {
        ushort flags = U16((int)flagsOffset);
        BinaryPrimitives.WriteUInt16LittleEndian(_bytes.AsSpan((int)flagsOffset, 2), (ushort)(flags | VerFlgWeak));
    }

    /// <summary>The ELF hash (System V ABI) that vna_hash must hold for a version name.</summary>
    public static uint ElfHash(string name)
    {
        uint h = 0;
        foreach (byte c in Encoding.ASCII.GetBytes(name))
        {
            h = (h << 4) + c;
            uint g = h & 0xf0000000;
            if (g != 0) h ^= g >> 24;
            h &= ~g;
        }
        return h;
    }

    private ElfSection LinkedStrings(ElfSection sec)
    {
        if (sec.Link >= Sections.Count) throw Bad($"section {sec.Index} links to missing section {sec.Link}");
        var strtab = Sections[(int)sec.Link];
        if (strtab.Type != 3 /* SHT_STRTAB */) throw Bad($"section {sec.Index} links to section {sec.Link}, which is not a string table");
        return strtab;
    }

    private string CString(ElfSection strtab, uint offset)
    {
        if (offset >= strtab.Size) throw Bad($"string offset {offset} outside its table");
        int start = checked((int)(strtab.Offset + offset));
        int end = Array.IndexOf(_bytes, (byte)0, start, (int)(strtab.Size - offset));
        if (end < 0) throw Bad("unterminated string");
        return Encoding.ASCII.GetString(_bytes, start, end - start);
    }

    private void CheckRange(ulong offset, ulong size, string what)
    {
        if (offset > (ulong)_bytes.Length || size > (ulong)_bytes.Length - offset)
            throw Bad($"{what} lies past the end of the file");
    }

    private void CheckInside(ulong at, ulong size, ElfSection sec, ulong end)
    {
        if (at < sec.Offset || at + size > end) throw Bad($"version entry outside section {sec.Index}");
    }

    private InvalidDataException Bad(string what) => new($"{_path}: {what}");
    private ushort U16(int o) => BinaryPrimitives.ReadUInt16LittleEndian(_bytes.AsSpan(o, 2));
    private uint U32(int o) => BinaryPrimitives.ReadUInt32LittleEndian(_bytes.AsSpan(o, 4));
    private ulong U64(int o) => BinaryPrimitives.ReadUInt64LittleEndian(_bytes.AsSpan(o, 8));
}

/// <summary>One ELF64 section header, as far as the patcher needs it.</summary>
public sealed record ElfSection(int Index, uint NameOffset, uint Type, ulong Offset, ulong Size, uint Link, uint Info);

/// <summary>One Vernaux entry: <paramref name="File"/> needs <paramref name="Version"/>; <paramref name="FlagsOffset"/> is where vna_flags sits in the file.</summary>
public sealed record VersionNeed(string File, string Version, uint Hash, ushort Flags, long FlagsOffset)
{
    public bool IsWeak => (Flags & ElfFile.VerFlgWeak) != 0;
}
