import Foundation
import ModelFiles
import Numerics

/// A Llama/Qwen2 decoder-only transformer with fp32 weights, run on the CPU.
///
///     x = E[tokens]                               [T, hidden]   (T = new tokens of the whole batch)
///     x = DecoderLayer_l(x) for l in 0 ..< L      (appends keys/values to the cache)
///     logits = RMSNorm(x[rows])·γ · W_headᵀ        [R, vocab]    (R = last row of each sequence, or all T)
///
/// `W_head` is `E` when embeddings are tied.
public final class TransformerModel: CausalLM {
    public let config: TransformerConfig
    /// `[vocabularySize, hiddenSize]`: the stored fp32 table, or the file's blocks decoded on demand when the model
    /// keeps only those (`embeddingBlocks`; the forward then decodes just the rows it looks up). Assigning it stores
    /// fp32 values and drops the blocks.
    public var embedding: [Float] {
        get { storedEmbedding ?? embeddingBlocks!.dequantized() }
        set {
            storedEmbedding = newValue
            embeddingBlocks = nil
        }
    }
    private var storedEmbedding: [Float]?
    /// The token embedding as the GGUF file's blocks (`LinearStorage.quantized` with a quantized table), else nil.
    public private(set) var embeddingBlocks: QuantizedMatrix?
    public let layers: [DecoderLayer]
    /// `[hiddenSize]`.
    public var finalNorm: [Float]
    /// `[vocabularySize, hiddenSize]`. When tied it starts as a copy-on-write share of `embedding` (no extra memory
    /// until one of them is modified; modifying one does not change the other).
    public let lmHead: Linear
    /// Worker threads for matrix products and attention.
    public var threads: Int
    /// Where the weights were loaded from (`useWeights(.native)` takes the GGUF file's blocks from it).
    public let weightSource: WeightSource
    let rope: RoPE

    public var vocabularySize: Int { config.vocabularySize }
    public var contextLength: Int { config.contextLength }

    /// Builds the model from weights in HF layout. `threads` sets the parallelism of every forward pass.
    /// `linearStorage: .quantized` keeps quantized linear layers as their blocks only (see `LinearStorage`; needs a
    /// `QuantizedWeightSource`, i.e. a GGUF file).
    public init(config: TransformerConfig, weights: WeightSource, threads: Int = 2,
                linearStorage: LinearStorage = .fp32) throws {
        try config.validate()
        var blocks: QuantizedWeightSource?
        if linearStorage == .quantized {
            guard let source = weights as? QuantizedWeightSource else { throw NativeWeightsUnavailableError() }
            blocks = source
        }
        func load(_ name: TensorName) throws -> [Float] {
            guard let v = try weights.tensor(name, shape: name.shape(config)) else {
                throw TransformerError("missing weight \(name.huggingFace) (\(name.gguf) in GGUF)")
            }
            return v
        }
        self.config = config
        let tableBlocks = try blocks?.quantizedMatrix(.embedding, shape: TensorName.embedding.shape(config))
        let table = tableBlocks == nil ? try load(.embedding) : nil
        storedEmbedding = table
        embeddingBlocks = tableBlocks
        layers = try (0 ..< config.layerCount).map {
            try DecoderLayer(index: $0, config: config, weights: weights, blocks: blocks)
        }
        finalNorm = try load(.finalNorm)
        if config.tiedEmbeddings, let q = tableBlocks {
            lmHead = try Linear(quantized: q)
        } else if config.tiedEmbeddings, let table {
            lmHead = try Linear(weight: table, outFeatures: config.vocabularySize, inFeatures: config.hiddenSize)
        } else if let q = try blocks?.quantizedMatrix(.lmHead, shape: TensorName.lmHead.shape(config)) {
            lmHead = try Linear(quantized: q)
        } else {
            lmHead = try Linear(weight: try load(.lmHead), outFeatures: config.vocabularySize, inFeatures: config.hiddenSize)
        }
        weightSource = weights
        self.threads = threads
        rope = RoPE(headDim: config.headDim, theta: config.ropeTheta)
        BLAS.useSingleThread()
    }

    /// Loads a GGUF model (llama or qwen2 architecture), dequantizing every tensor to fp32 (`linearStorage:
    /// .quantized`: quantized linear layers keep only their blocks).
    public static func load(gguf file: GGUFFile, threads: Int = 2,
                            linearStorage: LinearStorage = .fp32) throws -> TransformerModel {
        let config = try TransformerConfig(gguf: file)
        return try TransformerModel(config: config, weights: GGUFWeights(file: file, config: config), threads: threads,
                                    linearStorage: linearStorage)
    }

    /// Loads a GGUF model from a path.
    public static func load(ggufPath path: String, threads: Int = 2,
                            linearStorage: LinearStorage = .fp32) throws -> TransformerModel {
        try load(gguf: try GGUFFile(path: path), threads: threads, linearStorage: linearStorage)
    }

    /// Loads a Hugging Face model directory: `config.json` plus `model.safetensors` or a sharded
    /// `model.safetensors.index.json` (F32, F16 or BF16 tensors, converted to fp32).
    public static func load(huggingFaceDirectory directory: String, threads: Int = 2) throws -> TransformerModel {
        let configPath = (directory as NSString).appendingPathComponent("config.json")
        let data: Data
        do {
            data = try Data(contentsOf: URL(fileURLWithPath: configPath))
        } catch {
            throw TransformerError("cannot read \(configPath): \(error.localizedDescription)")
        }
        let config = try TransformerConfig(huggingFaceConfig: data, source: configPath)
        let checkpoint: SafetensorsCollection
        do {
            checkpoint = try SafetensorsCollection(directory: directory)
        } catch {
            throw TransformerError("\(error)")
        }
        return try TransformerModel(config: config, weights: SafetensorsWeights(checkpoint: checkpoint, source: directory),
                                    threads: threads)
    }

    /// A cache in the number format that goes with the forward's weights: fp32 with fp32 weights, fp16 with bf16 or
    /// native weights (whose products already round activations to 16 bits; half the bytes for decode-time
    /// attention to read).
    public func makeCache(slots: Int, capacity: Int) -> KVCache {
        makeCache(slots: slots, capacity: capacity, storage: weightFormat == .fp32 ? .fp32 : .fp16)
    }

    public func makeCache(slots: Int, capacity: Int, storage: KVCache.Storage) -> KVCache {
        KVCache(layers: config.layerCount, slots: slots, capacity: capacity, kvHeads: config.kvHeadCount,
                headDim: config.headDim, storage: storage)
    }

    public func forward(tokens: [[Int]], slots: [Int], cache: KVCache, allPositions: Bool) throws -> Logits {
        guard cache.layers == config.layerCount, cache.kvHeads == config.kvHeadCount, cache.headDim == config.headDim else {
            throw TransformerError("forward: the cache was made for another model (\(cache.layers) layers, \(cache.kvHeads) kv heads of \(cache.headDim))")
        }
        let layout = try BatchLayout(tokens: tokens, slots: slots, cache: cache,
                                     vocabularySize: config.vocabularySize, contextLength: config.contextLength)
        let t = layout.tokenCount, hidden = config.hiddenSize
        let x = UnsafeMutablePointer<Float>.allocate(capacity: t * hidden)
        defer { x.deallocate() }
        embed(tokens, into: x)
        runLayers(x, layout: layout, cache: cache)
        for seq in layout.sequences { cache.lengths[seq.slot] = seq.start + seq.count }

        let rows = allPositions ? Array(0 ..< t) : layout.sequences.map { $0.firstRow + $0.count - 1 }
        let selected = UnsafeMutablePointer<Float>.allocate(capacity: rows.count * hidden)
        defer { selected.deallocate() }
        finalNorm.withUnsafeBufferPointer { g in
            for (i, r) in rows.enumerated() {
                Kernels.rmsNorm(x + r * hidden, weight: g.baseAddress!, rows: 1, n: hidden,
                                eps: config.rmsNormEpsilon, into: selected + i * hidden)
            }
        }
        let vocab = config.vocabularySize
        let values = [Float](unsafeUninitializedCapacity: rows.count * vocab) { buf, n in
            lmHead.forward(selected, rows: rows.count, into: buf.baseAddress!, threads: threads)
            n = rows.count * vocab
        }
        return Logits(values: values, rows: rows.count, vocabularySize: vocab)
    }

    /// Copies the embedding rows of `tokens` (sequence after sequence) into `x` `[T, hidden]` (decoding just those
    /// rows when the table is kept as blocks).
    func embed(_ tokens: [[Int]], into x: UnsafeMutablePointer<Float>) {
        let hidden = config.hiddenSize
        guard let storedEmbedding else {
            for (row, id) in tokens.joined().enumerated() {
                embeddingBlocks!.decodeRows(id ..< id + 1, into: x + row * hidden)
            }
            return
        }
        storedEmbedding.withUnsafeBufferPointer { e in
            var row = 0
            for seq in tokens {
                for id in seq {
                    (x + row * hidden).update(from: e.baseAddress! + id * hidden, count: hidden)
                    row += 1
                }
            }
        }
    }

    /// Runs every decoder layer on `x` `[T, hidden]` in place (the batch `layout`), appending keys and values to
    /// `cache`.
    func runLayers(_ x: UnsafeMutablePointer<Float>, layout: BatchLayout, cache: KVCache) {
        let scratch = Scratch(rows: layout.tokenCount, config: config)
        let tables = RoPETables(rope: rope, positions: layout.positions)
        defer { tables.deallocate() }
        for (l, layer) in layers.enumerated() {
            layer.forward(x, layout: layout, cache: cache, layer: l, config: config, rope: rope,
                          ropeTables: tables, scratch: scratch, threads: threads)
        }
    }
}
