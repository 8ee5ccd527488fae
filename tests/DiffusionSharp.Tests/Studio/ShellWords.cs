using System.Text;

namespace DiffusionSharp.Tests.Studio;

/// <summary>Splits a POSIX shell command line as the studio quotes it: plain words and single-quoted ones (<c>'\''</c> for a quote).</summary>
internal static class ShellWords
{
    public static List<string> Split(string command)
    {
        var words = new List<string>();
        var word = new StringBuilder();
        bool inWord = false, quoted = false;
        for (int i = 0; i < command.Length; i++)
        {
            char c = command[i];
            if (quoted)
            {
                if (c == '\'') quoted = false;
                else word.Append(c);
            }
            else if (c == ' ')
            {
                if (inWord) words.Add(word.ToString());
                word.Clear();
                inWord = false;
            }
            else
            {
                inWord = true;
                if (c == '\'') quoted = true;
                else if (c == '\\' && i + 1 < command.Length) word.Append(command[++i]);
                else word.Append(c);
            }
        }
        Assert.False(quoted, $"unbalanced quote in: {command}");
        if (inWord) words.Add(word.ToString());
        return words;
    }
}
