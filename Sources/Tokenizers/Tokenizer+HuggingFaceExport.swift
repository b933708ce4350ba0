import Foundation
import ModelFiles

extension Tokenizer {
    /// The Hugging Face tokenizer files equivalent to a GGUF file's tokenizer (as llama.cpp runs it), by file name:
    ///
    /// - `tokenizer.json`: model BPE with the GGUF's vocabulary (`model.vocab`, token → id, in id order) and merges
    ///   (`model.merges`, `[left, right]` pairs, best first), `ignore_merges` as llama.cpp uses for this
    ///   `tokenizer.ggml.pre`; no normalizer; the pre-tokenizer as a chain matching llama.cpp's (`smollm`: Digits
    ///   with individual digits, then ByteLevel with the GPT-2 regex; `qwen2` / `llama3`: Split with their regex,
    ///   then ByteLevel without regex; `gpt2`: ByteLevel with the GPT-2 regex); a ByteLevel decoder; a
    ///   TemplateProcessing post-processor that puts the BOS first when `add_bos_token` is set; and
    ///   `added_tokens`: every token llama.cpp matches whole in the text (control and unknown ones `special`,
    ///   user-defined ones not).
    /// - `tokenizer_config.json`: `tokenizer_class` PreTrainedTokenizerFast (so transformers runs tokenizer.json as
    ///   written), `bos_token` / `eos_token` / `pad_token`, `add_bos_token`, `added_tokens_decoder`, `chat_template`,
    ///   `model_max_length` (the GGUF's context length), `clean_up_tokenization_spaces` false.
    /// - `special_tokens_map.json`: the BOS / EOS / padding token texts.
    /// - `generation_config.json`: `bos_token_id`, `eos_token_id` (the EOS first, then llama.cpp's other
    ///   end-of-generation ids) and `pad_token_id`.
    ///
    /// The GGUF tokenizer and `Tokenizer(huggingFaceDirectory:)` on these files give the same ids for every text.
    public static func huggingFaceFiles(gguf: GGUFFile) throws -> [String: Data] {
        let tokenizer = try Tokenizer(gguf: gguf)
        let origin = gguf.path
        guard let pre = gguf.string("tokenizer.ggml.pre"), let (preTokenizer, ignoreMerges) = PreTokenizer.forGGUFPre(pre)
        else { throw TokenizerError("\(origin): the pre-tokenizer (tokenizer.ggml.pre) is missing or not supported") }
        let mergeValues = gguf.metadata["tokenizer.ggml.merges"]?.array ?? []
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeValues.count)
        for (i, v) in mergeValues.enumerated() {
            guard let m = v.string, let pair = splitMerge(m) else {
                throw TokenizerError("\(origin): tokenizer.ggml.merges[\(i)] is not a \"left right\" string")
            }
            merges.append(pair)
        }
        var contextLength: Int?
        if let arch = gguf.string("general.architecture") { contextLength = gguf.metadata["\(arch).context_length"]?.int }
        return try tokenizer.huggingFaceFiles(merges: merges, preTokenizer: preTokenizer, ignoreMerges: ignoreMerges,
                                              modelMaxLength: contextLength)
    }

    /// The Hugging Face files for this tokenizer with the given merges (best first) and pre-tokenizer (see
    /// `huggingFaceFiles(gguf:)`). Added tokens are the control / unknown (special) and user-defined (not special)
    /// entries of `kinds`, without lstrip / rstrip.
    func huggingFaceFiles(merges: [(String, String)], preTokenizer: PreTokenizer, ignoreMerges: Bool,
                          modelMaxLength: Int?) throws -> [String: Data] {
        var addedIds: [(id: Int, special: Bool)] = []
        for (i, k) in kinds.enumerated() where !tokens[i].isEmpty {
            switch k {
            case .control, .unknown: addedIds.append((i, true))
            case .userDefined: addedIds.append((i, false))
            default: break
            }
        }
        var files: [String: Data] = [:]
        files["tokenizer.json"] = Data(try tokenizerJSON(merges: merges, preTokenizer: preTokenizer,
                                                         ignoreMerges: ignoreMerges, added: addedIds).utf8)

        var config: [String: Any] = [
            "tokenizer_class": "PreTrainedTokenizerFast",
            "add_bos_token": addsBOS,
            "add_eos_token": false,
            "clean_up_tokenization_spaces": false,
            "bos_token": bosToken.map { $0 as Any } ?? NSNull(),
            "eos_token": eosToken.map { $0 as Any } ?? NSNull(),
            "pad_token": padTokenId.flatMap(idToToken).map { $0 as Any } ?? NSNull(),
            "unk_token": NSNull(),
        ]
        if let modelMaxLength { config["model_max_length"] = modelMaxLength }
        if let chatTemplate { config["chat_template"] = chatTemplate }
        var decoderTable: [String: Any] = [:]
        for a in addedIds {
            decoderTable[String(a.id)] = [
                "content": tokens[a.id], "lstrip": false, "rstrip": false, "normalized": false, "single_word": false,
                "special": a.special,
            ]
        }
        config["added_tokens_decoder"] = decoderTable
        files["tokenizer_config.json"] = try Self.prettyJSON(config)

        var specialMap: [String: Any] = [:]
        if let t = bosToken { specialMap["bos_token"] = t }
        if let t = eosToken { specialMap["eos_token"] = t }
        if let t = padTokenId.flatMap(idToToken) { specialMap["pad_token"] = t }
        files["special_tokens_map.json"] = try Self.prettyJSON(specialMap)

        var generation: [String: Any] = [:]
        if let bosTokenId { generation["bos_token_id"] = bosTokenId }
        let ends = (eosTokenId.map { [$0] } ?? []) + endOfTurnIds.filter { $0 != eosTokenId }.sorted()
        if ends.count == 1 { generation["eos_token_id"] = ends[0] } else if !ends.isEmpty { generation["eos_token_id"] = ends }
        if let padTokenId { generation["pad_token_id"] = padTokenId }
        files["generation_config.json"] = try Self.prettyJSON(generation)
        return files
    }

    /// Writes `huggingFaceFiles(gguf:)` into `directory` (created if needed), each file atomically.
    public static func writeHuggingFaceFiles(gguf: GGUFFile, to directory: String) throws {
        try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
        for (name, data) in try huggingFaceFiles(gguf: gguf).sorted(by: { $0.key < $1.key }) {
            let writer = try AtomicFileWriter(path: (directory as NSString).appendingPathComponent(name))
            try writer.write([UInt8](data))
            try writer.commit()
        }
    }

    // MARK: tokenizer.json

    /// tokenizer.json text (written by hand: the vocabulary in id order, stable output).
    private func tokenizerJSON(merges: [(String, String)], preTokenizer: PreTokenizer, ignoreMerges: Bool,
                               added: [(id: Int, special: Bool)]) throws -> String {
        let q = JSONText.quoted
        var out = "{\n  \"version\": \"1.0\",\n  \"truncation\": null,\n  \"padding\": null,\n  \"added_tokens\": ["
        out += added.map { a in
            "\n    {\"id\": \(a.id), \"content\": \(q(tokens[a.id])), \"single_word\": false, \"lstrip\": false, "
                + "\"rstrip\": false, \"normalized\": false, \"special\": \(a.special)}"
        }.joined(separator: ",")
        out += "\n  ],\n"
        out += "  \"normalizer\": " + (normalization == .nfc ? "{\"type\": \"NFC\"}" : "null") + ",\n"
        out += "  \"pre_tokenizer\": " + (try Self.preTokenizerJSON(preTokenizer)) + ",\n"
        out += "  \"post_processor\": " + postProcessorJSON() + ",\n"
        out += "  \"decoder\": {\"type\": \"ByteLevel\", \"add_prefix_space\": true, \"trim_offsets\": true, \"use_regex\": true},\n"
        out += "  \"model\": {\n    \"type\": \"BPE\",\n    \"dropout\": null,\n    \"unk_token\": null,\n"
        out += "    \"continuing_subword_prefix\": \"\",\n    \"end_of_word_suffix\": \"\",\n    \"fuse_unk\": false,\n"
        out += "    \"byte_fallback\": false,\n    \"ignore_merges\": \(ignoreMerges),\n    \"vocab\": {"
        var seen = Set<String>()
        var first = true
        for (id, t) in tokens.enumerated() where !t.isEmpty && seen.insert(t).inserted {
            out += (first ? "\n      " : ",\n      ") + q(t) + ": \(id)"
            first = false
        }
        out += "\n    },\n    \"merges\": ["
        first = true
        for (a, b) in merges {
            out += (first ? "\n      [" : ",\n      [") + q(a) + ", " + q(b) + "]"
            first = false
        }
        out += "\n    ]\n  }\n}\n"
        return out
    }

    /// The pre-tokenizer chain: each rule as Hugging Face writes it (Split with the rule's regex, or Digits), then a
    /// ByteLevel step; a final GPT-2 rule is that ByteLevel step's own regex (`use_regex`), as GPT-2-style files
    /// write it.
    static func preTokenizerJSON(_ preTokenizer: PreTokenizer) throws -> String {
        var rules = preTokenizer.rules
        let byteLevelRegex = rules.last == .gpt2
        if byteLevelRegex { rules.removeLast() }
        var steps: [String] = []
        for rule in rules {
            switch rule {
            case .isolateDigits:
                steps.append("{\"type\": \"Digits\", \"individual_digits\": true}")
            case .gpt2, .llama3:
                guard let pattern = knownSplitPatterns.first(where: { $0.value == rule })?.key else {
                    throw TokenizerError("pre-tokenizer rule \(rule) has no Hugging Face pattern")
                }
                steps.append("{\"type\": \"Split\", \"pattern\": {\"Regex\": \(JSONText.quoted(pattern))}, "
                             + "\"behavior\": \"Isolated\", \"invert\": false}")
            }
        }
        let byteLevel = "{\"type\": \"ByteLevel\", \"add_prefix_space\": false, \"trim_offsets\": true, \"use_regex\": \(byteLevelRegex)}"
        if steps.isEmpty { return byteLevel }
        return "{\"type\": \"Sequence\", \"pretokenizers\": [" + (steps + [byteLevel]).joined(separator: ", ") + "]}"
    }

    /// TemplateProcessing: `$A` (and `$A $B` for pairs), with the BOS first when the model adds one.
    private func postProcessorJSON() -> String {
        let q = JSONText.quoted
        func seq(_ id: String, _ typeId: Int) -> String { "{\"Sequence\": {\"id\": \"\(id)\", \"type_id\": \(typeId)}}" }
        guard addsBOS, let bos = bosTokenId else {
            return "{\"type\": \"TemplateProcessing\", \"single\": [\(seq("A", 0))], \"pair\": [\(seq("A", 0)), "
                + "\(seq("B", 1))], \"special_tokens\": {}}"
        }
        let name = q(tokens[bos])
        let special = "{\"SpecialToken\": {\"id\": \(name), \"type_id\": 0}}"
        return "{\"type\": \"TemplateProcessing\", \"single\": [\(special), \(seq("A", 0))], \"pair\": [\(special), "
            + "\(seq("A", 0)), \(special), \(seq("B", 1))], \"special_tokens\": {\(name): {\"id\": \(name), "
            + "\"ids\": [\(bos)], \"tokens\": [\(name)]}}}"
    }

    private static func prettyJSON(_ object: [String: Any]) throws -> Data {
        var data = try JSONSerialization.data(withJSONObject: object,
                                              options: [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes])
        data.append(0x0A)
        return data
    }
}
