import Foundation
import HoneBase
import HoneData

/// BPE training time at vocab 4096 and 8192 and encode throughput on the corpus
/// ../shared/bench/hf_bpe.py builds; when HF's trained tokenizer.json files are given, also
/// whether Hone's merges equal HF's.
func tokenizerBench(corpus: String, hf: [String]) throws {
    let text = try String(contentsOfFile: corpus, encoding: .utf8)
    let bytes = text.utf8.count
    var lines: [String] = []
    var start = text.startIndex
    while start < text.endIndex {
        let end = text[start...].firstIndex(of: "\n").map { text.index(after: $0) } ?? text.endIndex
        lines.append(String(text[start..<end]))
        start = end
    }
    for (i, vocab) in [4096, 8192].enumerated() {
        // Medians of 3: this machine's timings wander by a third from run to run.
        var trainTimes: [Double] = []
        var trained: Tokenizer?
        for _ in 0..<3 {
            let t0 = Date()
            trained = try Tokenizer.train(lines: lines, vocabSize: vocab, minFrequency: 2)
            trainTimes.append(Date().timeIntervalSince(t0))
        }
        guard let tok = trained else { return }
        let trainSeconds = trainTimes.sorted()[1]
        // Encode in ~16 KiB chunks cut at line ends, as hf_bpe.py does.
        var chunks: [String] = [], cur = "", n = 0
        for l in lines { cur += l; n += l.utf8.count; if n >= 16384 { chunks.append(cur); cur = ""; n = 0 } }
        if !cur.isEmpty { chunks.append(cur) }
        var o: [String: JSONValue] = [
            "bench": .string("bpe"), "tool": .string("hone"), "vocab": .int(vocab), "corpus_bytes": .int(bytes),
            "train_s_1t": .double((trainSeconds * 1000).rounded() / 1000),
        ]
        for threads in [1, 2] {
            // A fresh tokenizer each time, so the piece cache starts empty.
            var times: [Double] = []
            var count = 0
            for _ in 0..<3 {
                let fresh = try Tokenizer(json: tok.json)
                let t1 = Date()
                count = fresh.encode(batch: chunks, threads: threads).reduce(0) { $0 + $1.count }
                times.append(Date().timeIntervalSince(t1))
            }
            let encodeSeconds = times.sorted()[1]
            o["encode_MB_s_\(threads)t"] = .double((Double(bytes) / 1e6 / encodeSeconds * 100).rounded() / 100)
            o["tokens"] = .int(count)
        }
        if i < hf.count, let data = FileManager.default.contents(atPath: hf[i]) {
            let theirs = try Tokenizer(json: try JSONValue.parse(data))
            let same = theirs.bpe.tokens == tok.bpe.tokens && theirs.bpe.merges.count == tok.bpe.merges.count
                && zip(theirs.bpe.merges, tok.bpe.merges).allSatisfy { $0.0 == $1.0 && $0.1 == $1.1 }
            o["merges_equal_hf"] = .bool(same)
        }
        print(JSONValue.object(o).canonical)
    }
}
