import Foundation
import HoneBase
import HoneModel

/// Inference on SmolLM2 as the issue measures llama.cpp: prefill of 256 prompt tokens, then
/// generation of 64 tokens one at a time with the KV cache (greedy). The prompt runs on fp32
/// weights dequantized at load; each generated token reads the file's own blocks (Q4_1
/// projections, Q8_0 embeddings as the head). Median of `reps` runs; one JSON line.
func generateBench(gguf: String, threads: Int, prompt: Int, generate: Int, reps: Int) throws {
    let m = try GGUFModel.load(URL(fileURLWithPath: gguf))
    let model = Model(config: m.config, weights: m.weights, threads: threads, tuning: .frozen)
    let generator = Generator(model: model, blocks: try GGUFModel.blockWeights(m.gguf, config: m.config))
    var rng = CounterRNG(key: 7)
    let tokens = (0..<prompt).map { _ in Int32(rng.next() % UInt32(m.config.vocabSize)) }
    var prefill: [Double] = [], decode: [Double] = []
    for _ in 0..<(reps + 1) {
        generator.reset()
        let t0 = Date()
        var logits = try generator.feed(tokens)
        let t1 = Date()
        for _ in 0..<generate {
            var best = 0
            for i in 1..<logits.count where logits[i] > logits[best] { best = i }
            logits = try generator.feed([Int32(best)])
        }
        let t2 = Date()
        prefill.append(Double(prompt) / t1.timeIntervalSince(t0))
        decode.append(Double(generate) / t2.timeIntervalSince(t1))
    }
    // The first run warms the caches and the allocator: not counted.
    func median(_ xs: [Double]) -> Double { let s = xs.dropFirst().sorted(); return (s[s.count / 2] * 10).rounded() / 10 }
    let line: [String: Any] = ["bench": "hone_smollm2_generate", "threads": threads, "prompt_tokens": prompt, "generated_tokens": generate,
                               "prefill_tok_s": median(prefill), "generate_tok_s": median(decode), "weights": "prefill fp32 (dequantized), generation GGUF blocks", "block_kernel": BlockMatmul.usesSIMD ? "avx2" : "portable",
                               "rss_mb_peak": peakRSSMegabytes()]
    print(String(decoding: try JSONSerialization.data(withJSONObject: line, options: [.sortedKeys]), as: UTF8.self))
}
