import ModelFiles

extension Tokenizer {
    /// Builds the tokenizer a GGUF file describes in its `tokenizer.ggml.*` metadata: `model` (must be
    /// "gpt2", byte-level BPE), `pre` (the pre-tokenizer), `tokens`, `token_type`, `merges` ("a b" strings),
    /// `bos/eos/padding/eot_token_id`, `add_bos_token`, and `tokenizer.chat_template`. Like llama.cpp, control
    /// and user-defined tokens are matched whole in the text, and no normalization is applied.
    public convenience init(gguf: GGUFFile) throws {
        let origin = gguf.path
        guard let model = gguf.string("tokenizer.ggml.model") else {
            throw TokenizerError("\(origin): no tokenizer in this file (metadata tokenizer.ggml.model is missing)")
        }
        guard model == "gpt2" else {
            if model == "llama" || model == "t5" || model == "bert" || model == "rwkv" {
                throw TokenizerError(
                    "\(origin): tokenizer type \"\(model)\" (SentencePiece/unigram/WordPiece family) is not supported; only byte-level BPE (\"gpt2\") is")
            }
            throw TokenizerError("\(origin): unknown tokenizer type \"\(model)\"; only byte-level BPE (\"gpt2\") is supported")
        }
        guard let tokenValues = gguf.metadata["tokenizer.ggml.tokens"]?.array else {
            throw TokenizerError("\(origin): metadata tokenizer.ggml.tokens (the vocabulary) is missing")
        }
        let tokens = tokenValues.compactMap(\.string)
        guard tokens.count == tokenValues.count, !tokens.isEmpty else {
            throw TokenizerError("\(origin): tokenizer.ggml.tokens must be a non-empty array of strings")
        }
        guard let mergeValues = gguf.metadata["tokenizer.ggml.merges"]?.array else {
            throw TokenizerError("\(origin): metadata tokenizer.ggml.merges is missing (a byte-level BPE tokenizer needs its merges)")
        }
        var merges: [(String, String)] = []
        merges.reserveCapacity(mergeValues.count)
        for (i, v) in mergeValues.enumerated() {
            guard let m = v.string, let pair = Self.splitMerge(m) else {
                throw TokenizerError("\(origin): tokenizer.ggml.merges[\(i)] is not a \"left right\" string")
            }
            merges.append(pair)
        }
        var kinds = [TokenKind](repeating: .normal, count: tokens.count)
        if let types = gguf.metadata["tokenizer.ggml.token_type"]?.array {
            guard types.count == tokens.count else {
                throw TokenizerError(
                    "\(origin): tokenizer.ggml.token_type has \(types.count) entries but there are \(tokens.count) tokens")
            }
            for (i, t) in types.enumerated() {
                guard let v = t.int, let k = TokenKind(rawValue: v) else {
                    throw TokenizerError("\(origin): tokenizer.ggml.token_type[\(i)] is not a known token type")
                }
                kinds[i] = k
            }
        }
        guard let pre = gguf.string("tokenizer.ggml.pre") else {
            throw TokenizerError("\(origin): metadata tokenizer.ggml.pre (the pre-tokenizer type) is missing")
        }
        guard let (preTokenizer, ignoreMerges) = PreTokenizer.forGGUFPre(pre) else {
            throw TokenizerError("\(origin): pre-tokenizer \"\(pre)\" (tokenizer.ggml.pre) is not supported; supported: qwen2, llama3, smollm, gpt-2 and their aliases")
        }
        func id(_ key: String) throws -> Int? {
            guard let v = gguf.metadata["tokenizer.ggml.\(key)"] else { return nil }
            guard let i = v.int else { throw TokenizerError("\(origin): tokenizer.ggml.\(key) is not an integer") }
            guard i >= 0, i < tokens.count else {
                throw TokenizerError("\(origin): tokenizer.ggml.\(key) = \(i) is outside the vocabulary (size \(tokens.count))")
            }
            return i
        }
        // Like llama.cpp: tokens whose text marks an end of turn or a fill-in-the-middle role are control
        // tokens whatever the file says (e.g. Qwen2.5's "</s>", a normal token there).
        var endOfGeneration: [Int] = []
        for (i, t) in tokens.enumerated() {
            let eog = Self.llamaCppEndOfGenerationNames.contains(t)
            if eog || Self.llamaCppControlNames.contains(t) {
                kinds[i] = .control
                if eog { endOfGeneration.append(i) }
            }
        }
        // llama.cpp matches control, user-defined and unknown tokens whole (control ones only when asked).
        var added: [AddedToken] = []
        for (i, k) in kinds.enumerated() {
            switch k {
            case .control, .unknown: added.append(AddedToken(id: i, special: true))
            case .userDefined: added.append(AddedToken(id: i, special: false))
            default: break
            }
        }
        var extraEOT = endOfGeneration
        if let eot = try id("eot_token_id") { extraEOT.append(eot) }
        if let eom = try id("eom_token_id") { extraEOT.append(eom) }
        try self.init(
            tokens: tokens, kinds: kinds, merges: merges, preTokenizer: preTokenizer, ignoreMerges: ignoreMerges,
            normalization: .none,
            addedTokens: added, bosTokenId: try id("bos_token_id"), eosTokenId: try id("eos_token_id"),
            padTokenId: try id("padding_token_id"),
            addsBOS: gguf.metadata["tokenizer.ggml.add_bos_token"]?.bool ?? false,
            extraEndOfTurnIds: extraEOT, chatTemplate: gguf.string("tokenizer.chat_template"))
    }

    /// Token texts llama.cpp treats as end-of-generation (and so as control tokens).
    static let llamaCppEndOfGenerationNames: Set<String> = [
        "<|eot_id|>", "<|im_end|>", "<|end|>", "<end_of_turn>", "<|endoftext|>", "</s>", "<|eom_id|>", "<EOT>",
        "_<EOT>", "<|end_of_text|>", "<end_of_utterance>", "<|fim_pad|>", "<|repo_name|>", "<|file_sep|>",
    ]
    /// Further token texts llama.cpp treats as control tokens (fill-in-the-middle roles).
    static let llamaCppControlNames: Set<String> = [
        "<|fim_prefix|>", "<fim-prefix>", "<fim_prefix>", "<PRE>", "<|fim_suffix|>", "<fim-suffix>", "<fim_suffix>",
        "<SUF>", "<|fim_middle|>", "<fim-middle>", "<fim_middle>", "<MID>", "<fim-pad>", "<fim_pad>", "<PAD>",
        "<|fim_repo|>", "<fim-repo>", "<REPO>", "<reponame>",
    ]

    /// Splits a merge "left right" at its first space after the first character (as llama.cpp does).
    static func splitMerge(_ m: String) -> (String, String)? {
        guard let first = m.unicodeScalars.first else { return nil }
        let rest = m.unicodeScalars.dropFirst()
        guard let space = rest.firstIndex(of: " ") else { return nil }
        var left = String.UnicodeScalarView()
        left.append(first)
        left.append(contentsOf: rest[rest.startIndex ..< space])
        let right = String(String.UnicodeScalarView(rest[rest.index(after: space)...]))
        return (String(left), right)
    }
}
