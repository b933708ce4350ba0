import Foundation

/// What a vocabulary entry is, following llama.cpp's `tokenizer.ggml.token_type` codes.
public enum TokenKind: Int, Sendable {
    case undefined = 0, normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

/// A token matched whole in the text before BPE. `special` ones (control tokens) only with `parseSpecial`;
/// `lstrip`/`rstrip` make the match also swallow white space on that side (Hugging Face added-token options).
public struct AddedToken: Sendable {
    public var id: Int
    public var special: Bool
    public var lstrip: Bool
    public var rstrip: Bool

    public init(id: Int, special: Bool, lstrip: Bool = false, rstrip: Bool = false) {
        self.id = id
        self.special = special
        self.lstrip = lstrip
        self.rstrip = rstrip
    }
}

/// Text normalization applied before pre-tokenization (none for GGUF files, as llama.cpp does).
public enum Normalization: Sendable {
    case none, nfc
}

/// A byte-level BPE tokenizer (GPT-2 style, as used by Qwen2, SmolLM, Llama-3...).
///
/// Encoding: special/added tokens are cut out of the text first (leftmost, longest match first; control tokens
/// only with `parseSpecial`), the text between is optionally NFC-normalized, cut into pieces by the
/// pre-tokenizer, and each piece's UTF-8 bytes are merged by `BPEModel`. Decoding maps ids back to bytes.
/// Build one with `Tokenizer(gguf:)` or `Tokenizer(huggingFaceDirectory:)` / `Tokenizer(tokenizerJSON:config:)`.
public final class Tokenizer: @unchecked Sendable {
    /// Token text by id, as the vocabulary spells it (byte-level characters for normal tokens).
    public let tokens: [String]
    public let kinds: [TokenKind]
    public let bosTokenId: Int?
    public let eosTokenId: Int?
    public let padTokenId: Int?
    /// Whether the model expects a BOS token at the start of a prompt (`add_bos_token`).
    public let addsBOS: Bool
    /// Ids that end generation: EOS, EOT, and tokens such as `<|im_end|>` and `<|endoftext|>` (for GGUF files,
    /// llama.cpp's end-of-generation set).
    public let endOfTurnIds: Set<Int>
    /// The model's own Jinja chat template, if it ships one.
    public let chatTemplate: String?
    public let preTokenizer: PreTokenizer
    public let normalization: Normalization

    private let idByToken: [String: Int32]
    private let bpe: BPEModel
    private let specials: SpecialTokenMatcher
    /// The bytes each id decodes to.
    private let pieceBytes: [[UInt8]]
    /// The chat template, parsed on first use.
    private var parsedTemplate: ChatTemplate?
    private let templateLock = Lock()

    public var vocabularySize: Int { tokens.count }

    /// Bytes whose byte-level character is not in the vocabulary: text containing them cannot round-trip
    /// (they are dropped, as the reference tokenizers drop them).
    public var bytesWithoutToken: [UInt8] {
        (0 ..< 256).compactMap { b in
            idByToken[String(Unicode.Scalar(ByteLevel.scalarForByte[b])!)] == nil ? UInt8(b) : nil
        }
    }

    /// Builds a tokenizer from its parts. `merges` are byte-level spellings, best first; `addedTokens` are
    /// matched whole in the text before BPE (`special` ones only with `parseSpecial`).
    public init(
        tokens: [String], kinds: [TokenKind], merges: [(String, String)], preTokenizer: PreTokenizer,
        ignoreMerges: Bool = false, normalization: Normalization = .none, addedTokens: [AddedToken],
        bosTokenId: Int?, eosTokenId: Int?, padTokenId: Int?, addsBOS: Bool,
        extraEndOfTurnIds: [Int] = [], chatTemplate: String?
    ) throws {
        guard tokens.count == kinds.count else {
            throw TokenizerError("token list has \(tokens.count) entries but token types have \(kinds.count)")
        }
        guard !tokens.isEmpty, tokens.count < Int(Int32.max) else {
            throw TokenizerError("vocabulary has \(tokens.count) tokens")
        }
        for (name, id) in [("bos", bosTokenId), ("eos", eosTokenId), ("padding", padTokenId)] {
            if let id, id < 0 || id >= tokens.count {
                throw TokenizerError("\(name) token id \(id) is outside the vocabulary (size \(tokens.count))")
            }
        }
        self.tokens = tokens
        self.kinds = kinds
        var idByToken: [String: Int32] = [:]
        idByToken.reserveCapacity(tokens.count)
        for (i, t) in tokens.enumerated() where idByToken[t] == nil { idByToken[t] = Int32(i) }
        self.idByToken = idByToken
        self.bpe = BPEModel(tokenToId: idByToken, merges: merges, ignoreMerges: ignoreMerges)
        self.preTokenizer = preTokenizer
        self.normalization = normalization
        for a in addedTokens where a.id < 0 || a.id >= tokens.count {
            throw TokenizerError("added token id \(a.id) is outside the vocabulary (size \(tokens.count))")
        }
        self.specials = SpecialTokenMatcher(
            tokens: addedTokens.filter { !tokens[$0.id].isEmpty }.map { (Array(tokens[$0.id].utf8), $0) })
        self.bosTokenId = bosTokenId
        self.eosTokenId = eosTokenId
        self.padTokenId = padTokenId
        self.addsBOS = addsBOS
        self.chatTemplate = chatTemplate
        let addedIds = Set(addedTokens.map(\.id))
        self.pieceBytes = tokens.enumerated().map { i, t in
            let raw = addedIds.contains(i) || kinds[i] == .control || kinds[i] == .userDefined
            return raw ? Array(t.utf8) : (ByteLevel.decode(t) ?? Array(t.utf8))
        }
        var eot = Set(extraEndOfTurnIds.filter { $0 >= 0 && $0 < tokens.count })
        if let eosTokenId { eot.insert(eosTokenId) }
        for name in Self.endOfTurnNames {
            if let id = idByToken[name], kinds[Int(id)] == .control || addedIds.contains(Int(id)) { eot.insert(Int(id)) }
        }
        self.endOfTurnIds = eot
    }

    /// Token texts that end a turn in common chat formats.
    static let endOfTurnNames = ["<|im_end|>", "<|endoftext|>", "<|eot_id|>", "<|eom_id|>", "<|end|>", "<end_of_turn>"]

    // MARK: lookup

    public func tokenToId(_ token: String) -> Int? { idByToken[token].map(Int.init) }

    /// The text of the BOS / EOS tokens (what chat templates get as `bos_token` / `eos_token`).
    public var bosToken: String? { bosTokenId.flatMap(idToToken) }
    public var eosToken: String? { eosTokenId.flatMap(idToToken) }

    public func idToToken(_ id: Int) -> String? { id >= 0 && id < tokens.count ? tokens[id] : nil }

    public func isSpecial(_ id: Int) -> Bool {
        id >= 0 && id < kinds.count && (kinds[id] == .control || kinds[id] == .unknown)
    }

    // MARK: encoding

    /// Token ids for `text`. With `parseSpecial`, control tokens written in the text (like `<|im_start|>`)
    /// become their ids (llama.cpp's `special=true`); otherwise they are tokenized as plain text. Added tokens
    /// that are not control tokens are always matched whole. `addBOS` puts the BOS id first (nil: the
    /// model's `add_bos_token` setting).
    public func encode(_ text: String, parseSpecial: Bool = false, addBOS: Bool? = nil) -> [Int] {
        var ids: [Int] = []
        if addBOS ?? addsBOS, let bos = bosTokenId { ids.append(bos) }
        var raw: [Int32] = []
        encodeBytes(Array(text.utf8), parseSpecial: parseSpecial, into: &raw)
        ids.reserveCapacity(ids.count + raw.count)
        for r in raw { ids.append(Int(r)) }
        return ids
    }

    /// Like `encode(_:)`, for UTF-8 bytes; invalid UTF-8 is an error naming the offset.
    public func encode(bytes: [UInt8], parseSpecial: Bool = false, addBOS: Bool? = nil) throws -> [Int] {
        if let bad = UTF8Util.firstInvalidOffset(bytes) {
            throw TokenizerError(
                "input is not valid UTF-8: byte 0x\(String(bytes[bad], radix: 16, uppercase: true)) at offset \(bad)")
        }
        return encode(String(decoding: bytes, as: UTF8.self), parseSpecial: parseSpecial, addBOS: addBOS)
    }

    private func encodeBytes(_ bytes: [UInt8], parseSpecial: Bool, into out: inout [Int32]) {
        for segment in specials.split(bytes, parseSpecial: parseSpecial) {
            switch segment {
            case .token(let id): out.append(id)
            case .text(let range): encodeText(bytes[range], into: &out)
            }
        }
    }

    private func encodeText(_ bytes: ArraySlice<UInt8>, into out: inout [Int32]) {
        var scalars = UTF8Util.scalars(bytes)
        if normalization == .nfc, scalars.contains(where: { $0 >= 0x300 }) {
            let s = String(decoding: bytes, as: UTF8.self).precomposedStringWithCanonicalMapping
            scalars = s.unicodeScalars.map(\.value)
        }
        var piece: [UInt8] = []
        for range in preTokenizer.split(scalars) {
            piece.removeAll(keepingCapacity: true)
            for i in range { UTF8Util.append(scalars[i], to: &piece) }
            bpe.encode(piece, into: &out)
        }
    }

    /// The pieces the pre-tokenizer cuts plain text into (no special-token matching), for inspection.
    public func preTokenize(_ text: String) -> [String] {
        var scalars = text.unicodeScalars.map(\.value)
        if normalization == .nfc { scalars = text.precomposedStringWithCanonicalMapping.unicodeScalars.map(\.value) }
        return preTokenizer.split(scalars).map { r in
            var v = String.UnicodeScalarView()
            for i in r { v.append(Unicode.Scalar(scalars[i])!) }
            return String(v)
        }
    }

    // MARK: decoding

    /// The bytes token `id` stands for.
    public func bytes(of id: Int) throws -> [UInt8] {
        guard id >= 0, id < pieceBytes.count else {
            throw TokenizerError("token id \(id) is outside the vocabulary (size \(pieceBytes.count))")
        }
        return pieceBytes[id]
    }

    /// The text of some ids. Bytes that are not valid UTF-8 become U+FFFD. `skipSpecial` leaves out control
    /// tokens (like `<|im_end|>`).
    public func decode(_ ids: [Int], skipSpecial: Bool = false) throws -> String {
        var out: [UInt8] = []
        for id in ids {
            let b = try bytes(of: id)
            if skipSpecial && isSpecial(id) { continue }
            out.append(contentsOf: b)
        }
        return String(decoding: out, as: UTF8.self)
    }

    /// Runs `body` with the cached parsed template under a lock and keeps what it returns.
    func withParsedTemplateCache(_ body: (ChatTemplate?) throws -> ChatTemplate) rethrows -> ChatTemplate {
        templateLock.lock()
        defer { templateLock.unlock() }
        let t = try body(parsedTemplate)
        parsedTemplate = t
        return t
    }

    /// A decoder that takes one id at a time and returns only complete characters.
    public func streamingDecoder(skipSpecial: Bool = false) -> StreamingDecoder {
        StreamingDecoder(tokenizer: self, skipSpecial: skipSpecial)
    }
}
