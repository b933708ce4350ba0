/// How text is cut into pieces before BPE. Each rule is a hand-written scanner over Unicode scalars that gives
/// exactly the pieces the reference regex gives (the regexes are quoted on each case); no regex engine runs.
public enum PreTokenizerRule: Equatable, Sendable {
    /// GPT-2: `'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+`
    case gpt2
    /// Llama-3 / Qwen2 family: `(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}|
    /// ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+` (Qwen2: maxDigits 1; Llama-3: 3). The contraction
    /// letters match ASCII case-insensitively, as llama.cpp does.
    case llama3(maxDigits: Int)
    /// Every number character (\p{N}) becomes a piece of its own; the text between stays whole.
    case isolateDigits
}

/// A chain of rules: each one cuts every piece the previous one produced.
public struct PreTokenizer: Equatable, Sendable {
    public var rules: [PreTokenizerRule]

    public init(_ rules: [PreTokenizerRule]) {
        self.rules = rules
    }

    /// The pre-tokenizer llama.cpp uses for a `tokenizer.ggml.pre` value, and whether it skips merging for a
    /// piece that is a whole vocabulary token (llama.cpp's `ignore_merges`); nil when not supported.
    public static func forGGUFPre(_ pre: String) -> (PreTokenizer, ignoreMerges: Bool)? {
        switch pre {
        case "qwen2", "stablelm2", "hunyuan", "deepseek-r1-qwen", "megrez", "kormo", "f2llmv2":
            return (PreTokenizer([.llama3(maxDigits: 1)]), false)
        case "llama3", "llama-bpe", "llama-v3", "falcon3", "falcon-h1", "pixtral", "midm-2.0", "lfm2":
            return (PreTokenizer([.llama3(maxDigits: 3)]), true)
        case "dbrx", "smaug-bpe", "chatglm-bpe", "glm4":
            return (PreTokenizer([.llama3(maxDigits: 3)]), false)
        case "smollm", "starcoder", "refact", "command-r", "codeshell", "exaone", "minerva-7b":
            return (PreTokenizer([.isolateDigits, .gpt2]), false)
        case "gpt2", "gpt-2", "phi-2", "mpt", "olmo", "jais", "trillion", "exaone4", "jina-es", "jina-de", "gigachat":
            return (PreTokenizer([.gpt2]), false)
        default:
            return nil
        }
    }

    /// Cuts `scalars[range]` into pieces, returned as consecutive ranges covering all of it.
    func split(_ scalars: [UInt32]) -> [Range<Int>] {
        var pieces: [Range<Int>] = scalars.isEmpty ? [] : [0 ..< scalars.count]
        for rule in rules {
            var next: [Range<Int>] = []
            next.reserveCapacity(pieces.count * 2)
            for piece in pieces {
                switch rule {
                case .gpt2: Self.splitGPT2(scalars, piece, into: &next)
                case .llama3(let maxDigits): Self.splitLlama3(scalars, piece, maxDigits: maxDigits, into: &next)
                case .isolateDigits: Self.isolateDigits(scalars, piece, into: &next)
                }
            }
            pieces = next
        }
        return pieces
    }

    // MARK: scanners

    @inline(__always)
    private static func cls(_ s: [UInt32], _ i: Int, _ end: Int) -> CharacterClass {
        i < end ? CharacterClass.of(s[i]) : []
    }

    @inline(__always)
    private static func isOther(_ c: CharacterClass) -> Bool {
        c.isDisjoint(with: [.letter, .number, .whitespace])
    }

    @inline(__always)
    private static func isNewline(_ v: UInt32) -> Bool { v == 0x0A || v == 0x0D }

    @inline(__always)
    private static func lowerASCII(_ v: UInt32) -> UInt32 {
        (v >= 0x41 && v <= 0x5A) ? v + 32 : v
    }

    /// Length of a contraction (`'s 't 'm 'd` = 2, `'re 've 'll` = 3) at `i`, or 0.
    private static func contraction(_ s: [UInt32], _ i: Int, _ end: Int, caseInsensitive: Bool) -> Int {
        guard s[i] == 0x27, i + 1 < end else { return 0 }
        let fold: (UInt32) -> UInt32 = caseInsensitive ? lowerASCII : { $0 }
        let a = fold(s[i + 1])
        if a == 0x73 || a == 0x74 || a == 0x6D || a == 0x64 { return 2 }  // s t m d
        guard i + 2 < end else { return 0 }
        let b = fold(s[i + 2])
        if (a == 0x72 && b == 0x65) || (a == 0x76 && b == 0x65) || (a == 0x6C && b == 0x6C) { return 3 }  // re ve ll
        return 0
    }

    /// End of the white-space run starting at `i`.
    @inline(__always)
    private static func whitespaceEnd(_ s: [UInt32], _ i: Int, _ end: Int) -> Int {
        var j = i
        while j < end, CharacterClass.of(s[j]).contains(.whitespace) { j += 1 }
        return j
    }

    static func splitGPT2(_ s: [UInt32], _ range: Range<Int>, into out: inout [Range<Int>]) {
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let start = i
            let c = CharacterClass.of(s[i])
            let n = contraction(s, i, end, caseInsensitive: false)
            if n > 0 {
                i += n
            } else {
                // ` ?X+` for X in letters, numbers, other: an optional space, then a run of one class.
                let spaced = s[i] == 0x20 && i + 1 < end
                let lead = spaced ? CharacterClass.of(s[i + 1]) : c
                if lead.contains(.letter) {
                    i += spaced ? 1 : 0
                    while i < end, CharacterClass.of(s[i]).contains(.letter) { i += 1 }
                } else if lead.contains(.number) {
                    i += spaced ? 1 : 0
                    while i < end, CharacterClass.of(s[i]).contains(.number) { i += 1 }
                } else if isOther(lead) {
                    i += spaced ? 1 : 0
                    while i < end, isOther(CharacterClass.of(s[i])) { i += 1 }
                } else {
                    // `\s+(?!\S)` leaves the last white space for the next piece when text follows; else `\s+`.
                    let j = whitespaceEnd(s, i, end)
                    i = (j - i > 1 && j < end) ? j - 1 : j
                }
            }
            out.append(start ..< i)
        }
    }

    static func splitLlama3(_ s: [UInt32], _ range: Range<Int>, maxDigits: Int, into out: inout [Range<Int>]) {
        let end = range.upperBound
        var i = range.lowerBound
        while i < end {
            let start = i
            let v = s[i]
            let c = CharacterClass.of(v)
            let n = contraction(s, i, end, caseInsensitive: true)
            if n > 0 {
                i += n
            } else if c.contains(.letter)
                || (!isNewline(v) && !c.contains(.number) && cls(s, i + 1, end).contains(.letter))
            {
                // `[^\r\n\p{L}\p{N}]?\p{L}+`
                i += 1
                while i < end, CharacterClass.of(s[i]).contains(.letter) { i += 1 }
            } else if c.contains(.number) {
                // `\p{N}{1,maxDigits}`
                var k = 0
                while i < end, k < maxDigits, CharacterClass.of(s[i]).contains(.number) { i += 1; k += 1 }
            } else if isOther(v == 0x20 ? cls(s, i + 1, end) : c), v != 0x20 || i + 1 < end {
                // ` ?[^\s\p{L}\p{N}]+[\r\n]*`
                if v == 0x20 { i += 1 }
                while i < end, isOther(CharacterClass.of(s[i])) { i += 1 }
                while i < end, isNewline(s[i]) { i += 1 }
            } else {
                let j = whitespaceEnd(s, i, end)
                var lastNewline = -1
                for k in i ..< j where isNewline(s[k]) { lastNewline = k }
                if lastNewline >= 0 {
                    i = lastNewline + 1  // `\s*[\r\n]+`
                } else if j - i > 1 && j < end {
                    i = j - 1  // `\s+(?!\S)`
                } else {
                    i = j  // `\s+`
                }
            }
            out.append(start ..< i)
        }
    }

    static func isolateDigits(_ s: [UInt32], _ range: Range<Int>, into out: inout [Range<Int>]) {
        var start = range.lowerBound
        for i in range where CharacterClass.of(s[i]).contains(.number) {
            if start < i { out.append(start ..< i) }
            out.append(i ..< i + 1)
            start = i + 1
        }
        if start < range.upperBound { out.append(start ..< range.upperBound) }
    }
}
