import Foundation
import ModelFiles

extension Tokenizer {
    /// Loads a tokenizer from a `.gguf` file or a Hugging Face model directory (one with tokenizer.json).
    public static func load(path: String) throws -> Tokenizer {
        var isDirectory: ObjCBool = false
        guard FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory) else {
            throw TokenizerError("\(path): no such file or directory")
        }
        if isDirectory.boolValue { return try Tokenizer(huggingFaceDirectory: path) }
        return try Tokenizer(gguf: try GGUFFile(path: path))
    }

    /// Loads the tokenizer of a Hugging Face model directory: `tokenizer.json` (required),
    /// `tokenizer_config.json` (BOS/EOS names, `add_bos_token`, chat template), `chat_template.jinja` (the
    /// template as transformers 5 saves it) and `generation_config.json` (extra end-of-turn ids), when present.
    public convenience init(huggingFaceDirectory path: String) throws {
        let dir = URL(fileURLWithPath: path)
        let tokenizerURL = dir.appendingPathComponent("tokenizer.json")
        guard FileManager.default.fileExists(atPath: tokenizerURL.path) else {
            throw TokenizerError("\(path): no tokenizer.json in this directory")
        }
        func read(_ name: String) throws -> Data? {
            let url = dir.appendingPathComponent(name)
            guard FileManager.default.fileExists(atPath: url.path) else { return nil }
            do { return try Data(contentsOf: url) } catch { throw TokenizerError("\(url.path): cannot read: \(error)") }
        }
        var template: String?
        if let data = try read("chat_template.jinja") {
            template = String(decoding: data, as: UTF8.self)
        }
        try self.init(
            tokenizerJSON: try read("tokenizer.json")!, config: try read("tokenizer_config.json"),
            generationConfig: try read("generation_config.json"), chatTemplate: template,
            origin: tokenizerURL.path)
    }

    /// Builds a tokenizer from the contents of `tokenizer.json` and, optionally, `tokenizer_config.json` and
    /// `generation_config.json`. `chatTemplate` overrides the config's template. Supported: model type BPE
    /// (byte-level), pre-tokenizers ByteLevel / Split (the GPT-2, Llama-3 and Qwen2 patterns) / Digits
    /// (individual) / Sequence, normalizer none or NFC, added tokens (special or not).
    public convenience init(
        tokenizerJSON: Data, config: Data? = nil, generationConfig: Data? = nil, chatTemplate: String? = nil,
        origin: String = "tokenizer.json"
    ) throws {
        let root = try Self.jsonObject(tokenizerJSON, origin)
        let cfg = try config.map { try Self.jsonObject($0, "tokenizer_config.json") } ?? [:]
        let gen = try generationConfig.map { try Self.jsonObject($0, "generation_config.json") } ?? [:]

        guard let model = root["model"] as? [String: Any] else {
            throw TokenizerError("\(origin): no \"model\" object")
        }
        let type = model["type"] as? String ?? (model["merges"] != nil ? "BPE" : "unknown")
        guard type == "BPE" else {
            throw TokenizerError(
                "\(origin): tokenizer model type \"\(type)\" is not supported (only byte-level BPE; SentencePiece/Unigram/WordPiece tokenizers are not)")
        }
        if model["byte_fallback"] as? Bool == true {
            throw TokenizerError("\(origin): BPE with byte_fallback (SentencePiece-style) is not supported; only byte-level BPE is")
        }
        for key in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[key] as? String, !s.isEmpty {
                throw TokenizerError("\(origin): BPE with a \(key) is not supported")
            }
        }
        guard let vocab = model["vocab"] as? [String: Any] else {
            throw TokenizerError("\(origin): model.vocab is missing or not an object")
        }
        var pairs: [(String, String)] = []
        guard let mergeList = model["merges"] as? [Any] else {
            throw TokenizerError("\(origin): model.merges is missing or not an array")
        }
        pairs.reserveCapacity(mergeList.count)
        for (i, m) in mergeList.enumerated() {
            if let s = m as? String, let p = Self.splitMerge(s) {
                pairs.append(p)
            } else if let a = m as? [Any], a.count == 2, let l = a[0] as? String, let r = a[1] as? String {
                pairs.append((l, r))
            } else {
                throw TokenizerError("\(origin): model.merges[\(i)] is neither \"a b\" nor [\"a\", \"b\"]")
            }
        }

        // Vocabulary plus added tokens; ids must be unique and gaps become unused empty entries.
        var byId: [Int: String] = [:]
        byId.reserveCapacity(vocab.count)
        for (token, v) in vocab {
            guard let id = Self.jsonId(v) else {
                throw TokenizerError("\(origin): model.vocab[\(String(reflecting: token))] is not a valid id")
            }
            if let other = byId[id], other != token {
                throw TokenizerError("\(origin): id \(id) is used by both \(String(reflecting: other)) and \(String(reflecting: token))")
            }
            byId[id] = token
        }
        var added: [AddedToken] = []
        var addedSeen = Set<Int>()
        func addToken(_ id: Int, _ content: String, _ t: [String: Any], _ what: String) throws {
            guard id >= 0, id < 10_000_000, !content.isEmpty else {
                throw TokenizerError("\(origin): \(what) has an invalid id or empty content")
            }
            if let other = byId[id], other != content {
                throw TokenizerError("\(origin): \(what) \(String(reflecting: content)) has id \(id), which the vocabulary gives to \(String(reflecting: other))")
            }
            byId[id] = content
            if addedSeen.insert(id).inserted {
                added.append(AddedToken(
                    id: id, special: t["special"] as? Bool ?? false, lstrip: t["lstrip"] as? Bool ?? false,
                    rstrip: t["rstrip"] as? Bool ?? false))
            }
        }
        if let list = root["added_tokens"] as? [Any] {
            for (i, a) in list.enumerated() {
                guard let t = a as? [String: Any], let id = Self.jsonId(t["id"]),
                    let content = t["content"] as? String
                else { throw TokenizerError("\(origin): added_tokens[\(i)] needs an id and a content") }
                try addToken(id, content, t, "added_tokens[\(i)]")
            }
        }
        if let decoderTable = cfg["added_tokens_decoder"] as? [String: Any] {
            for (key, v) in decoderTable {
                guard let id = Int(key), let t = v as? [String: Any], let content = t["content"] as? String else {
                    throw TokenizerError("tokenizer_config.json: added_tokens_decoder[\(key)] needs an id key and a content")
                }
                try addToken(id, content, t, "added_tokens_decoder[\(key)]")
            }
        }
        guard let maxId = byId.keys.max() else { throw TokenizerError("\(origin): the vocabulary is empty") }
        var tokens = [String](repeating: "", count: maxId + 1)
        var kinds = [TokenKind](repeating: .unused, count: maxId + 1)
        for (id, t) in byId {
            tokens[id] = t
            kinds[id] = .normal
        }
        for a in added { kinds[a.id] = a.special ? .control : .userDefined }

        let normalization = try Self.parseNormalizer(root["normalizer"], origin)
        let (preTokenizer, byteLevelPre) = try Self.parsePreTokenizer(root["pre_tokenizer"], origin)
        let byteLevelDecoder = Self.mentionsByteLevel(root["decoder"])
        guard byteLevelPre || byteLevelDecoder else {
            throw TokenizerError("\(origin): not a byte-level BPE tokenizer (no ByteLevel pre-tokenizer or decoder); only byte-level BPE is supported")
        }

        // Special token names from tokenizer_config.json: a string or {"content": ...}.
        func tokenId(_ key: String) -> Int? {
            let v = cfg[key]
            let name = (v as? String) ?? ((v as? [String: Any])?["content"] as? String)
            return name.flatMap { n in byId.first(where: { $0.value == n })?.key }
        }
        var extraEOT: [Int] = []
        for source in [gen, cfg] {
            if let n = Self.jsonId(source["eos_token_id"]) { extraEOT.append(n) }
            if let list = source["eos_token_id"] as? [Any] { extraEOT += list.compactMap(Self.jsonId) }
        }
        var template = chatTemplate
        if template == nil {
            if let s = cfg["chat_template"] as? String {
                template = s
            } else if let list = cfg["chat_template"] as? [Any] {
                // A list of named templates: use "default".
                for case let t as [String: Any] in list where t["name"] as? String == "default" {
                    template = t["template"] as? String
                }
            }
        }
        try self.init(
            tokens: tokens, kinds: kinds, merges: pairs, preTokenizer: preTokenizer,
            ignoreMerges: model["ignore_merges"] as? Bool ?? false, normalization: normalization,
            addedTokens: added, bosTokenId: tokenId("bos_token"), eosTokenId: tokenId("eos_token"),
            padTokenId: tokenId("pad_token"),
            addsBOS: cfg["add_bos_token"] as? Bool ?? Self.postProcessorAddsBOS(root["post_processor"], bos: tokenId("bos_token")),
            extraEndOfTurnIds: extraEOT, chatTemplate: template)
    }

    // MARK: parsing helpers

    /// A JSON number that is a plausible token id (a whole number in 0..<10M), or nil.
    static func jsonId(_ v: Any?) -> Int? {
        guard let n = v as? NSNumber, !(v is Bool) || String(cString: n.objCType) != "c" else { return nil }
        let d = n.doubleValue
        guard d >= 0, d < 10_000_000, d == d.rounded() else { return nil }
        return Int(d)
    }

    static func jsonObject(_ data: Data, _ origin: String) throws -> [String: Any] {
        let object: Any
        do {
            object = try JSONSerialization.jsonObject(with: data)
        } catch {
            throw TokenizerError("\(origin): malformed JSON (\(error.localizedDescription))")
        }
        guard let dict = object as? [String: Any] else { throw TokenizerError("\(origin): top level is not a JSON object") }
        return dict
    }

    static func parseNormalizer(_ value: Any?, _ origin: String) throws -> Normalization {
        guard let n = value as? [String: Any] else { return .none }
        switch n["type"] as? String {
        case "NFC": return .nfc
        case "Sequence":
            var result = Normalization.none
            for item in n["normalizers"] as? [Any] ?? [] {
                if try parseNormalizer(item, origin) == .nfc { result = .nfc }
            }
            return result
        default:
            throw TokenizerError("\(origin): normalizer \(n["type"] as? String ?? "?") is not supported (only none or NFC)")
        }
    }

    /// The known split patterns, as tokenizer.json files write them.
    static let knownSplitPatterns: [String: PreTokenizerRule] = [
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .llama3(maxDigits: 1),
        #"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"#:
            .llama3(maxDigits: 3),
        #"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"#: .gpt2,
    ]

    /// The rules of a pre-tokenizer, and whether it has a ByteLevel step.
    static func parsePreTokenizer(_ value: Any?, _ origin: String) throws -> (PreTokenizer, Bool) {
        guard let p = value as? [String: Any] else { return (PreTokenizer([]), false) }
        let type = p["type"] as? String ?? "?"
        switch type {
        case "Sequence":
            var rules: [PreTokenizerRule] = []
            var byteLevel = false
            for item in p["pretokenizers"] as? [Any] ?? [] {
                let (sub, b) = try parsePreTokenizer(item, origin)
                rules += sub.rules
                byteLevel = byteLevel || b
            }
            return (PreTokenizer(rules), byteLevel)
        case "ByteLevel":
            if p["add_prefix_space"] as? Bool == true {
                throw TokenizerError("\(origin): ByteLevel pre-tokenizer with add_prefix_space=true is not supported")
            }
            return (PreTokenizer(p["use_regex"] as? Bool ?? true ? [.gpt2] : []), true)
        case "Digits":
            guard p["individual_digits"] as? Bool == true else {
                throw TokenizerError("\(origin): Digits pre-tokenizer without individual_digits is not supported")
            }
            return (PreTokenizer([.isolateDigits]), false)
        case "Split":
            let pattern = p["pattern"] as? [String: Any]
            guard let regex = pattern?["Regex"] as? String else {
                throw TokenizerError("\(origin): Split pre-tokenizer needs a Regex pattern")
            }
            guard let rule = knownSplitPatterns[regex] else {
                throw TokenizerError("\(origin): Split pattern \(String(reflecting: regex)) is not supported (known: GPT-2, Llama-3, Qwen2)")
            }
            let behavior = p["behavior"] as? String ?? "Isolated"
            guard behavior == "Isolated", p["invert"] as? Bool != true else {
                throw TokenizerError("\(origin): Split behavior \(behavior) (invert \(p["invert"] ?? false)) is not supported; only Isolated")
            }
            return (PreTokenizer([rule]), false)
        default:
            throw TokenizerError("\(origin): pre-tokenizer type \(type) is not supported")
        }
    }

    /// Whether a TemplateProcessing post-processor (alone or in a Sequence) puts the BOS token first.
    static func postProcessorAddsBOS(_ value: Any?, bos: Int?) -> Bool {
        guard let bos, let p = value as? [String: Any] else { return false }
        if p["type"] as? String == "Sequence" {
            return (p["processors"] as? [Any] ?? []).contains { postProcessorAddsBOS($0, bos: bos) }
        }
        guard p["type"] as? String == "TemplateProcessing",
            let first = (p["single"] as? [Any])?.first as? [String: Any],
            let special = first["SpecialToken"] as? [String: Any], let name = special["id"] as? String,
            let entry = (p["special_tokens"] as? [String: Any])?[name] as? [String: Any],
            let ids = entry["ids"] as? [Any]
        else { return false }
        return ids.count == 1 && jsonId(ids[0]) == bos
    }

    static func mentionsByteLevel(_ value: Any?) -> Bool {
        guard let d = value as? [String: Any] else { return false }
        if d["type"] as? String == "ByteLevel" { return true }
        for key in ["decoders", "pretokenizers"] {
            if let list = d[key] as? [Any], list.contains(where: mentionsByteLevel) { return true }
        }
        return false
    }
}
