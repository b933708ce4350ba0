/// The character classes the pre-tokenizer rules test: Unicode letters (\p{L}: Lu Ll Lt Lm Lo), numbers
/// (\p{N}: Nd Nl No), and white space (\s: the Unicode White_Space property). Everything else is "other".
/// BMP code points are looked up in a table built once; the rest ask the standard library.
struct CharacterClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharacterClass(rawValue: 1)
    static let number = CharacterClass(rawValue: 2)
    static let whitespace = CharacterClass(rawValue: 4)

    static func of(_ scalar: UInt32) -> CharacterClass {
        if scalar < 0x10000 { return CharacterClass(rawValue: bmpTable[Int(scalar)]) }
        guard let s = Unicode.Scalar(scalar) else { return [] }
        return compute(s)
    }

    private static let bmpTable: [UInt8] = {
        var table = [UInt8](repeating: 0, count: 0x10000)
        for v in 0 ..< 0x10000 {
            if let s = Unicode.Scalar(UInt32(v)) { table[v] = compute(s).rawValue }
        }
        return table
    }()

    private static func compute(_ s: Unicode.Scalar) -> CharacterClass {
        var c: CharacterClass = []
        let p = s.properties
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
            c.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber:
            c.insert(.number)
        default:
            break
        }
        if p.isWhitespace { c.insert(.whitespace) }
        return c
    }
}
