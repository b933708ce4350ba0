"""The corpus of tricky strings the tokenizer golden tests run on (imported by make_tokenizer_fixtures.py)."""

HANDWRITTEN = [
    "",
    "a", "A", " ", "  ", "\n", "\t", "\r\n", "0", "9", "é", "中", "😀", "'", "-", ".", "\u00a0",
    "Hello world", "Hello, world!", "hello  world", "  leading spaces", "trailing spaces   ",
    "trailing newline\n", "\n\nleading newlines", "mixed \t tabs\tand spaces", "tabs\t\t\tthen word",
    "line one\nline two\n\nline four", "windows\r\nline\r\nendings\r\n", "cr only\rcarriage", "\r\r\n\n\r",
    "spaces then newline   \n  next", "   \n\n   \n", "a\n b\n  c\n   d", "x \n\n\ty", "end with space ",
    "      ", "\t\t", "\n\n\n\n\n", " \t \n \r\n ", "word\u3000ideographic\u3000space", "nbsp\u00a0between\u00a0words",
    "em\u2003space and\u2009thin", "line\u2028separator\u2029para", "nel\u0085next", "zero\u200bwidth\u200cjoiner\u200d",
    "I'm sure you're right, they've said we'll see. It's John's.",
    "I'M SURE YOU'RE RIGHT, THEY'VE SAID WE'LL SEE. IT'S JOHN'S.",
    "don't DON'T Don'T can'T won't", "'s 'S 't 'T 're 'RE 've 'VE 'm 'M 'll 'LL 'd 'D", "''' '''s", "rock 'n' roll",
    "the cat's 'hat'", "'", "''", "'ll", "x'ss", "l'été c'est", "O'Neil's", "it\u2019s curly", "'\u017f long s",
    "0123456789", "3.14159265358979323846", "1,000,000", "1 000 000", "12345678901234567890123",
    "-42", "+7", "1e-10", "0x1F 0b1010 0o17", "2024-01-31T12:34:56Z", "$1,234.56", "100%", "v1.2.3-beta.4",
    "Call 555-0123 now", "٠١٢٣٤٥٦٧٨٩ Arabic-Indic", "१२३ Devanagari digits", "①②③ circled", "½ ¾ ⅓ fractions",
    "Ⅻ roman numeral", "x² + y³ = z⁴", "２０２４年 fullwidth", "abc123def456", "a1b2c3", "123abc", "pi≈3.14",
    "日本語のテキストです。", "中文文本，包括标点符号。", "한국어 텍스트입니다.", "Русский текст с пунктуацией.",
    "Ελληνικά γράμματα", "עברית מימין לשמאל", "العربية من اليمين إلى اليسار", "हिन्दी पाठ", "ไทยไม่มีช่องว่าง",
    "ქართული", "Հայերեն", "ትግርኛ", "ᚠᛇᚻ runes", "𝔘𝔫𝔦𝔠𝔬𝔡𝔢 math letters", "Ünïcödé àccénts", "Tiếng Việt có dấu",
    "naïve café résumé", "straße STRASSE", "ǅungla dz digraph", "İstanbul ıi", "ﬁ ligature ﬂ", "Ａｂｃ fullwidth latin",
    "e\u0301 combining acute", "cafe\u0301", "a\u0300\u0301\u0302\u0303 stacked", "n\u0303o\u0308", "\u0301 leading mark",
    "Z\u0351\u0362a\u0315\u0360l\u035eg\u0327o zalgo", "अ\u093f", "क्षत्रिय", "Hangul jamo \u1100\u1161\u11a8",
    "😀😃😄😁", "👍🏽 skin tone", "👨‍👩‍👧‍👦 family", "🏳️‍🌈 rainbow flag", "🇺🇸🇯🇵🇫🇷 flags", "🇺", "❤️ heart",
    "👩🏾‍💻 technologist", "🧑‍🤝‍🧑", "emoji😀inside", "😀 😀  😀", "#️⃣ keycap", "☕️ coffee", "🦀🐍🦊",
    "𝟘𝟙𝟚 math digits", "𐍈 gothic", "𓀀 hieroglyph", "\U0001F9FF nazar", "\ue000 private use", "\U000e0001 tag",
    "\u0378 unassigned", "\ufeffBOM at start", "\ufffd replacement", "\x00 nul", "\x07\x08\x1b[31m escapes",
    "\x0b vertical tab", "\x0c form feed", "\x1c\x1d\x1e\x1f separators", "\x7f del",
    "def foo(x):\n    return x * 2\n", "class A:\n\tdef __init__(self):\n\t\tpass\n",
    "for i in range(10):\n    if i % 2 == 0:\n        print(f\"{i} is even\")\n",
    "import numpy as np\nx = np.zeros((3, 4), dtype=np.float32)",
    "func add(_ a: Int, _ b: Int) -> Int {\n    return a + b\n}",
    "let xs: [String: [Int]] = [\"a\": [1, 2]]\nguard let y = xs[\"a\"]?.first else { return }",
    "{\"key\": \"value\", \"n\": 42, \"list\": [1, 2.5, null, true], \"nested\": {\"a\": {}}}",
    "[{\"role\":\"user\",\"content\":\"hi\"}]",
    "#!/bin/bash\nset -euo pipefail\nfor f in *.txt; do echo \"$f\"; done | sort -u > out.log 2>&1",
    "ls -la /usr/local/bin && cd ~ && git log --oneline | head -n 5",
    "SELECT id, name FROM users WHERE age >= 18 ORDER BY name DESC;",
    "<html><body><p class=\"x\">Hi &amp; bye</p></body></html>",
    "int main(void) { printf(\"%d\\n\", 42); return 0; }",
    "x=>x*2; a!==b; c??=d; e?.f; g||h&&i", "#include <stdio.h>", "// comment\n/* block */",
    "    indented code", "\t\tif (a) {\n\t\t\tb();\n\t\t}", "a  =  b", "foo_bar_baz = FooBar.baz_qux()",
    "```python\nprint('hi')\n```", "$ echo $HOME", "@decorator\ndef f(): ...", "lambda x: x**2",
    "∀x ∈ ℝ: x² ≥ 0", "∫₀^∞ e^{-x²} dx = √π/2", "E = mc²", "a ≠ b ≤ c ≥ d ± e", "∑_{i=1}^{n} i = n(n+1)/2",
    "\\frac{a}{b} + \\sqrt{x}", "3 × 4 ÷ 2 = 6", "→ ← ↑ ↓ ⇒ ⇔", "α β γ δ ε", "½ + ¼ = ¾",
    "https://example.com/path?query=1&x=y#frag", "http://localhost:8080/api/v1/items/42",
    "mailto:someone@example.org", "ftp://files.example.net/pub/file.tar.gz", "www.example.co.uk/page.html",
    "user@example.com", "C:\\Users\\name\\file.txt", "/usr/local/lib/python3.11/site-packages",
    "<|im_start|>", "<|im_end|>", "<|endoftext|>", "a  <|im_end|>  b", "<|im_start|> \n\t x", "x\u3000<|im_end|>", "<|im_start|>user\nHello<|im_end|>\n",
    "<|im_start|>system\nYou are helpful.<|im_end|>\n<|im_start|>user\nHi!<|im_end|>\n<|im_start|>assistant\n",
    "text<|endoftext|>more text", "<|endoftext|><|endoftext|>", "<|im_start|><|im_end|>", " <|im_end|> ",
    "<|im_start", "im_start|>", "<|im_start|", "<|IM_START|>", "< |im_start| >", "<|endoftext|>\n\n",
    "<tool_call>{\"name\": \"f\"}</tool_call>", "<|fim_prefix|>def<|fim_suffix|>return<|fim_middle|>",
    "<repo_name>my/repo<file_sep>a.py", "<|unknown_token|>", "<s></s><unk>", "[PAD151906]",
    "Mixed 中文 and English text", "日本語とEnglishの混在123", "emoji🙂and中文and123", "Ω≈ç√∫˜µ≤≥÷",
    "¡¿Qué tal?!", "«guillemets» „quotes“ ‚single‘", "“smart quotes” and ‘single’", "em—dash en–dash",
    "ellipsis… and more", "•bullet ◦circle ▪square", "© ® ™ § ¶ † ‡", "¥€£¢₹₽₿", "…?!", "???!!!...",
    "-----", "=====", "_____", "*****", "#####", "~~~~~", "...", "!!!", "((()))", "[[[]]]", "{{{}}}",
    "a-b_c.d/e\\f|g", "snake_case camelCase PascalCase kebab-case SCREAMING_CASE", "ALLCAPS WORD", "MiXeD CaSe",
    "supercalifragilisticexpialidocious", "pneumonoultramicroscopicsilicovolcanoconiosis", "a" * 100,
    "ab" * 60, "lorem ipsum " * 12, "0" * 50, "12" * 30, " " * 33 + "x", "\n" * 17 + "x", "😀" * 20,
]


def generated():
    """Systematic combinations: digit runs, whitespace runs before each character class, punctuation runs."""
    out = []
    for n in (1, 2, 3, 4, 5, 7, 10, 16):
        out.append("7" * n)
        out.append("x" + "5" * n + "y")
    for ws in (" ", "  ", "   ", "\t", " \t", "\n", " \n", "\n ", "\r\n", "  \r\n  ", "\u3000", " \u00a0 "):
        for follow in ("word", "123", "!?", "中文", "😀", ""):
            out.append("a" + ws + follow)
    for p in ("!", "?!", "...", "--", "\"'", "/*", "#{", "```"):
        out.append("word" + p + "word")
        out.append(" " + p + "\n\n")
    return out


def random_corpus(count=300, seed=20261127):
    """Seeded random strings over all of Unicode (assigned or not, no surrogates), weighted toward white space,
    digits of many scripts, marks and ASCII, to compare character classes with the references."""
    import random

    rng = random.Random(seed)
    spaces = [0x20, 0x09, 0x0A, 0x0D, 0x0B, 0x0C, 0x85, 0xA0, 0x1680, 0x2000, 0x2005, 0x200A, 0x2028, 0x2029,
              0x202F, 0x205F, 0x3000, 0x180E, 0x200B, 0xFEFF]
    digits = [0x30, 0x660, 0x6F0, 0x966, 0x9E6, 0xE50, 0xFF10, 0x1D7CE, 0x2460, 0x2160, 0xBC, 0x10107]
    out = []
    for _ in range(count):
        chars = []
        for _ in range(rng.randint(1, 24)):
            r = rng.random()
            if r < 0.25:
                cp = rng.randint(0x20, 0x7E)
            elif r < 0.4:
                cp = rng.choice(spaces)
            elif r < 0.5:
                cp = rng.choice(digits) + rng.randint(0, 9)
            elif r < 0.6:
                cp = rng.choice([0x27, 0x300 + rng.randint(0, 0x6F), 0x20D0 + rng.randint(0, 0x20)])
            elif r < 0.9:
                cp = rng.randint(0xA0, 0xFFFD)
            else:
                cp = rng.randint(0x10000, 0x10FFFF)
            if 0xD800 <= cp <= 0xDFFF:
                cp = 0xFFFD
            chars.append(chr(cp))
        out.append("".join(chars))
    return out


def corpus():
    seen, result = set(), []
    for s in HANDWRITTEN + generated():
        if s not in seen:
            seen.add(s)
            result.append(s)
    return result


if __name__ == "__main__":
    print(len(corpus()))
