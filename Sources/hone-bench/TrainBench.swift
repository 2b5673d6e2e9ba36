import CBLAS
import Foundation
import HoneBase
import HoneModel
import HoneTensor
import HoneTrain

/// One training step (forward, backward, AdamW) on the configurations of
/// ../shared/bench/torch_llama_step.py — A: V4096 d256 L4 H4 T128 B16; B: V8192 d512 L8 H8 T256
/// B8; untied head, MHA, random tokens, AdamW(3e-4, 0.9/0.95, wd 0.1) — with the same FLOP
/// count (6·matmul params + 12·L·T·d per token), the time of each phase, peak RSS, and the rate
/// of the step's own sgemm calls alone (the ceiling the step is measured against).
///
/// Two figures against that ceiling. `step_vs_sgemm`, as runs 1–18 printed it: the median of
/// the timed steps, run back to back (as torch_llama_step.py runs PyTorch's), against the fastest
/// of three rounds of the step's products timed right after them. And `step_vs_sgemm_paired`:
/// as many steps again, each followed by an untimed round (the step leaves the rounds' buffers
/// cold; warm rounds ran 3–4% faster) and a timed one, and the median of each step's GFLOP/s
/// over its round's. This machine's speed drifts by 10–30% over tens of seconds: the first
/// figure divides a typical step by the luckiest round (a median round itself scores 0.91–0.95
/// by it), the second compares each step with the sgemm rate of its own moment, the way
/// bench/train_vs_torch.py pairs Hone with PyTorch. Tokens/s and the phases come from the
/// back-to-back steps only. Medians are true medians (the mean of the middle two of an even
/// count), as torch_llama_step.py's; runs 1–18 took the slower of the middle two steps.
func trainBench(config name: String, threads: Int, steps: Int, warmup: Int) {
    let shapes = ["A": (V: 4096, d: 256, L: 4, H: 4, T: 128, B: 16), "B": (V: 8192, d: 512, L: 8, H: 8, T: 256, B: 8)]
    guard let s = shapes[name], steps > 0, warmup >= 0 else {
        FileHandle.standardError.write(Data("hone-bench train: config A or B, at least one timed step\n".utf8))
        exit(2)
    }
    var c = ModelConfig(vocabSize: s.V)
    c.hiddenSize = s.d; c.layers = s.L; c.heads = s.H; c.maxPositions = s.T; c.tiedEmbeddings = false
    let layout = ParameterLayout(c)
    let model = Model(config: c, weights: initialWeights(layout, config: c, key: 1), threads: threads)
    let acts = Activations(config: c, B: s.B, T: s.T)
    var opt = Optimizer.Settings()
    opt.beta2 = 0.95; opt.weightDecay = 0.1
    let optimizer = Optimizer(opt, parameters: model.trainable)
    optimizer.threads = threads
    var rng = CounterRNG(key: 2)
    let M = s.B * s.T
    var targets = [Int32](repeating: 0, count: M)
    for m in 0..<M { acts.tokens[m] = Int32(rng.below(s.V)); targets[m] = Int32(rng.below(s.V)) }

    var phase = [Double](repeating: 0, count: 4)  // forward, head + loss, backward, optimizer
    var firstLoss: Float = 0, lastLoss: Float = 0
    /// One step: its seconds in total and per phase, and its loss.
    func step() -> (seconds: Double, phases: [Double], loss: Float) {
        let t0 = Date()
        model.zeroGrads()
        model.forward(acts)
        let t1 = Date()
        model.lmHeadForward(acts)
        let loss = model.lmLoss(acts, targets: targets, mask: nil)
        model.lmHeadBackward(acts)
        let t2 = Date()
        model.backward(acts)
        let t3 = Date()
        clipGradients(model.trainable, maxNorm: nil, threads: threads)
        optimizer.step(lr: 3e-4)
        let t4 = Date()
        return (t4.timeIntervalSince(t0), [(t0, t1), (t1, t2), (t2, t3), (t3, t4)].map { $0.1.timeIntervalSince($0.0) }, loss)
    }
    var times: [Double] = []
    for i in 0..<(warmup + steps) {
        let (seconds, phases, loss) = step()
        if i == 0 { firstLoss = loss }
        lastLoss = loss
        if i >= warmup {
            times.append(seconds)
            for p in 0..<4 { phase[p] += phases[p] }
        }
    }
    let ceiling = SgemmRounds(c, M: M, threads: threads)
    let best = (0..<3).map { _ in ceiling.gflops(sliced: false) }.max() ?? 0
    let sliced = (0..<3).map { _ in ceiling.gflops(sliced: true) }.max() ?? 0
    var pairs: [(seconds: Double, gflops: Double)] = []
    for _ in 0..<steps {
        let seconds = step().seconds
        _ = ceiling.gflops(sliced: false)
        pairs.append((seconds, ceiling.gflops(sliced: false)))
    }
    func median(_ x: [Double]) -> Double {
        let y = x.sorted()
        return y.count % 2 == 1 ? y[y.count / 2] : (y[y.count / 2 - 1] + y[y.count / 2]) / 2
    }
    let med = median(times)
    let matmulParams = layout.tensors.filter { $0.shape.count == 2 && $0.name != "model.embed_tokens.weight" }.reduce(0) { $0 + $1.count }
    let flopsPerToken = 6 * Double(matmulParams) + 12 * Double(s.L * s.T * s.d)
    let tokens = Double(M)
    let stepGflops = tokens * flopsPerToken / med / 1e9
    let pairedRatio = median(pairs.map { tokens * flopsPerToken / $0.seconds / 1e9 / $0.gflops })
    func r(_ x: Double, _ digits: Double = 10) -> JSONValue { .double((x * digits).rounded() / digits) }
    let total = phase.reduce(0, +)
    print(JSONValue.object([
        "bench": .string("hone_train"), "config": .string(name), "threads": .int(threads),
        "vocab": .int(s.V), "d": .int(s.d), "layers": .int(s.L), "heads": .int(s.H), "seq": .int(s.T), "batch": .int(s.B),
        "mlp_hidden": .int(c.ffn), "params_total": .int(layout.count), "params_matmul": .int(matmulParams),
        "step_s_med": r(med, 1e4), "step_s_min": r(times.min() ?? 0, 1e4), "step_s_max": r(times.max() ?? 0, 1e4),
        "train_tok_s_med": r(tokens / med), "train_gflops_med": r(stepGflops),
        "sgemm_gflops_same_shapes": r(best), "sgemm_gflops_hone_slices": r(sliced), "step_vs_sgemm": r(stepGflops / best, 1000),
        "sgemm_gflops_paired_med": r(median(pairs.map(\.gflops))), "step_vs_sgemm_paired": r(pairedRatio, 1000),
        "phase_share": .object(["forward": r(phase[0] / total, 1000), "head_loss": r(phase[1] / total, 1000),
                                "backward": r(phase[2] / total, 1000), "optimizer": r(phase[3] / total, 1000)]),
        "rss_mb_peak": .int(peakRSSMegabytes()), "loss_first": r(Double(firstLoss), 1e4), "loss_after": r(Double(lastLoss), 1e4),
        "blas_core": .string(BLASInfo.coreName),
    ]).canonical)
}

/// GFLOP/s of the step's matmuls alone: every Matmul.forward and .backward a step makes, with
/// the same shapes, timed together, one round per call — through Hone's fixed slices
/// (`sliced`), or as one OpenBLAS call per product with OpenBLAS's own threading (what
/// ../shared/bench/sgemm_peak.c measures). The buffers are made and filled once.
final class SgemmRounds {
    let M: Int, threads: Int, shapes: [(K: Int, N: Int)]
    let inp: Buffer, w: Buffer, out: Buffer, dinp: Buffer, dw: Buffer

    init(_ c: ModelConfig, M: Int, threads: Int) {
        let d = c.hiddenSize
        var shapes: [(K: Int, N: Int)] = []
        for _ in 0..<c.layers { shapes += [(d, d), (d, d), (d, d), (d, d), (d, c.ffn), (d, c.ffn), (c.ffn, d)] }
        shapes.append((d, c.vocabSize))
        let maxK = shapes.map(\.K).max() ?? d, maxN = shapes.map(\.N).max() ?? d
        self.M = M; self.threads = threads; self.shapes = shapes
        inp = Buffer(M * maxK); w = Buffer(maxN * maxK); out = Buffer(M * maxN); dinp = Buffer(M * maxK); dw = Buffer(maxN * maxK)
        var rng = CounterRNG(key: 3)
        inp.fillNormal(std: 1, rng: &rng); w.fillNormal(std: 0.02, rng: &rng); out.fillNormal(std: 0.01, rng: &rng)
    }

    func gflops(sliced: Bool) -> Double {
        let t = Date()
        for (K, N) in shapes {
            if sliced {
                Matmul.forward(out: out.pointer, inp: inp.pointer, weight: w.pointer, bias: nil, M: M, K: K, N: N, threads: threads)
                Matmul.backward(dinp: dinp.pointer, dweight: dw.pointer, dbias: nil, dout: out.pointer, inp: inp.pointer,
                                weight: w.pointer, M: M, K: K, N: N, threads: threads)
            } else {
                openblas_set_num_threads(Int32(threads))
                let (m, k, n) = (Int32(M), Int32(K), Int32(N))
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1, inp.pointer, k, w.pointer, k, 0, out.pointer, n)
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, k, n, 1, out.pointer, n, w.pointer, k, 1, dinp.pointer, k)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, k, m, 1, out.pointer, n, inp.pointer, k, 1, dw.pointer, k)
                openblas_set_num_threads(1)
            }
        }
        let seconds = Date().timeIntervalSince(t)
        return shapes.reduce(0.0) { $0 + 6 * Double(M) * Double($1.K) * Double($1.N) } / seconds / 1e9
    }
}
