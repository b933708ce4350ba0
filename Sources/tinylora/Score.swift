import ArgumentParser
import Foundation
import Transformer

struct Score: ParsableCommand {
    static let configuration = CommandConfiguration(
        abstract: "Print the model's top next-token logits at the last positions of an input.",
        discussion: """
        The input is tokenized (--text, --text-file, or --messages rendered with the chat template) or given as \
        ids (--ids). For each of the last --last positions i, prints the --top-k largest fp32 logits of the \
        prediction for token i+1 (ties: lower id first) and the log-sum-exp of that whole logits row. JSON form: \
        {"ids":[...],"positions":[{"index":i,"top":[[id,logit],...],"logsumexp":x},...]}.
        """)

    @OptionGroup var modelOptions: ModelOptions
    @OptionGroup var prompt: PromptOptions
    @OptionGroup var adapterOption: AdapterFileOption

    @Option(help: "Comma-separated token ids, used as they are.")
    var ids: String?

    @Flag(help: "With --messages: end the rendered chat with the assistant's turn header.")
    var addGenerationPrompt = false

    @Option(help: "Logits printed per position.")
    var topK = 10

    @Option(help: "Positions printed, counted from the end (0 = all).")
    var last = 1

    @Flag(help: "Print one JSON object.")
    var json = false

    func validate() throws {
        guard prompt.givenCount + (ids == nil ? 0 : 1) == 1 else {
            throw ValidationError("give exactly one of --text, --text-file, --messages, --ids")
        }
        if addGenerationPrompt && prompt.messages == nil {
            throw ValidationError("--add-generation-prompt needs --messages")
        }
        guard topK >= 1 else { throw ValidationError("--top-k must be >= 1") }
        guard last >= 0 else { throw ValidationError("--last must be >= 0") }
    }

    func run() throws {
        // Input first (bad input fails before a model is loaded), then the model.
        let idsGiven = try ids.map(parseIDs)
        let input = idsGiven == nil ? try prompt.read() : nil
        let adapterFile = try adapterOption.read()
        let opened = try modelOptions.open()
        let tokens = try idsGiven ?? input!.encode(with: opened.tokenizer(), addGenerationPrompt: addGenerationPrompt).ids
        guard !tokens.isEmpty else { throw CLIError("the input has no tokens") }
        let count = last == 0 ? tokens.count : last
        guard count <= tokens.count else {
            throw CLIError("--last \(last) exceeds the \(tokens.count) tokens of the input")
        }
        let model = try opened.transformer()
        try adapterOption.attach(adapterFile, to: model, opened: opened)
        if let bad = tokens.first(where: { $0 >= model.vocabularySize }) {
            throw CLIError("token id \(bad) is outside the vocabulary (0..<\(model.vocabularySize))")
        }
        guard tokens.count <= model.contextLength else {
            throw CLIError("the input has \(tokens.count) tokens, more than the model's context of \(model.contextLength)")
        }
        // The prefix goes in without logits, the scored positions with all of theirs (bounds the logits memory).
        let cache = model.makeCache(slots: 1, capacity: tokens.count)
        let split = tokens.count - count
        if split > 0 {
            _ = try model.forward(tokens: [Array(tokens[..<split])], slots: [0], cache: cache, allPositions: false)
        }
        let logits = try model.forward(tokens: [Array(tokens[split...])], slots: [0], cache: cache, allPositions: true)
        let k = min(topK, model.vocabularySize)
        var positions: [(index: Int, top: [(Int, Float)], logsumexp: Double)] = []
        for row in 0 ..< count {
            let values = logits[row]
            positions.append((split + row, topLogits(values, k: k), logSumExp(values)))
        }
        if json {
            let items = positions.map { p in
                JSON.object([
                    ("index", "\(p.index)"),
                    ("top", "[" + p.top.map { "[\($0.0),\(JSON.number($0.1))]" }.joined(separator: ",") + "]"),
                    ("logsumexp", JSON.number(p.logsumexp)),
                ])
            }
            print(JSON.object([("ids", JSON.ints(tokens)), ("positions", "[" + items.joined(separator: ",") + "]")]))
        } else {
            for p in positions {
                let top = p.top.map { "\($0.0):\(String(format: "%.4f", $0.1))" }.joined(separator: " ")
                print("position \(p.index) (token \(tokens[p.index])): logsumexp \(String(format: "%.4f", p.logsumexp))  \(top)")
            }
        }
    }
}

/// The k largest (id, logit) pairs, largest first; equal logits in increasing id order.
func topLogits(_ row: ArraySlice<Float>, k: Int) -> [(Int, Float)] {
    var best: [(Int, Float)] = []
    best.reserveCapacity(k + 1)
    for (offset, v) in row.enumerated() {
        if best.count == k, let worst = best.last, !(v > worst.1) { continue }
        var i = best.count
        while i > 0 && v > best[i - 1].1 { i -= 1 }
        best.insert((offset, v), at: i)
        if best.count > k { best.removeLast() }
    }
    return best
}

/// log Σ exp(x), computed in Double around the maximum.
func logSumExp(_ row: ArraySlice<Float>) -> Double {
    guard let m = row.max(), m.isFinite else { return Double(row.max() ?? -.infinity) }
    var sum = 0.0
    for v in row { sum += Foundation.exp(Double(v) - Double(m)) }
    return Double(m) + Foundation.log(sum)
}
