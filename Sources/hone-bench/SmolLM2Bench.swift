import Foundation
import HoneBase
import HoneModel
import HoneTensor
import HoneTrain

/// Fine-tuning steps on the reference real model, SmolLM2-135M-Instruct (the GGUF `make model`
/// fetches), as ../shared/bench/torch_smollm2_lora.py runs them in transformers + PEFT: random
/// tokens, next-token loss over every position, AdamW(1e-4), fp32 compute.
///
///     method lora:  rank r on all seven projections, alpha 2r, dropout 0, fp32 base
///     method qlora: the same over the file's Q4_1 blocks (dequantized per product)
///     method full:  every tensor trains
///     method frozen: nothing trains: the forward, the LM head and its input gradient alone
///                    (the floor every method's step stands on)
///
/// One JSON line: tokens/s (median step), load time, peak RSS of this process.
func smolLM2Bench(method: String, gguf: String, threads: Int, seq: Int, batch: Int, rank: Int, steps: Int, warmup: Int) throws {
    let t0 = Date()
    var tuning = Tuning()
    if method == "frozen" { tuning.base = .none } else if method != "full" {
        var l = LoRAConfig()
        l.rank = rank; l.alpha = Float(2 * rank)
        tuning.base = .none; tuning.lora = l; tuning.loraKey = 1
    }
    let model: Model
    if method == "qlora" {
        let q = try GGUFModel.loadQuantized(URL(fileURLWithPath: gguf), format: .q4_1)
        model = Model(config: q.config, weights: q.weights, threads: threads, tuning: tuning, quantized: q.quantized)
    } else {
        let m = try GGUFModel.load(URL(fileURLWithPath: gguf))
        model = Model(config: m.config, weights: m.weights, threads: threads, tuning: tuning)
    }
    let loadSeconds = Date().timeIntervalSince(t0)
    let rssLoaded = peakRSSMegabytes()
    let acts = Activations(for: model, B: batch, T: seq)
    var opt = Optimizer.Settings()
    opt.beta2 = 0.999; opt.weightDecay = 0.01  // torch.optim.AdamW's defaults
    let optimizer = Optimizer(opt, parameters: model.trainable)
    optimizer.threads = threads
    var rng = CounterRNG(key: 0)
    let M = batch * seq, V = model.config.vocabSize
    var targets = [Int32](repeating: 0, count: M)
    for m in 0..<M { acts.tokens[m] = Int32(rng.below(V)); targets[m] = Int32(rng.below(V)) }
    var times: [Double] = []
    var phase = [Double](repeating: 0, count: 5)  // layers forward, head forward + loss, head backward, layers backward, optimizer
    var firstLoss: Float = 0
    for step in 0..<(1 + warmup + steps) {
        var marks = [Date()]
        model.zeroGrads()
        model.forward(acts)
        marks.append(Date())
        model.lmHeadForward(acts)
        let loss = model.lmLoss(acts, targets: targets, mask: nil)
        marks.append(Date())
        model.lmHeadBackward(acts)
        marks.append(Date())
        model.backward(acts)
        marks.append(Date())
        optimizer.step(lr: 1e-4)
        marks.append(Date())
        if step == 0 { firstLoss = loss }
        if step > warmup {
            times.append(marks[5].timeIntervalSince(marks[0]))
            for i in 0..<5 { phase[i] += marks[i + 1].timeIntervalSince(marks[i]) }
        }
    }
    let total = phase.reduce(0, +)
    let med = times.sorted()[times.count / 2]
    func r(_ x: Double, _ digits: Double = 10) -> JSONValue { .double((x * digits).rounded() / digits) }
    print(JSONValue.object([
        "bench": .string("hone_smollm2_" + method), "threads": .int(threads), "seq": .int(seq), "batch": .int(batch),
        "rank": method == "full" ? .null : .int(rank), "params_total": .int(ParameterLayout(model.config).count),
        "params_trainable": .int(model.trainableCount), "load_s": r(loadSeconds, 100),
        "step_s_min": r(times.min() ?? 0, 1000), "step_s_med": r(med, 1000), "step_s_max": r(times.max() ?? 0, 1000),
        "train_tok_s_med": r(Double(M) / med), "rss_mb_loaded": .int(rssLoaded), "rss_mb_peak": .int(peakRSSMegabytes()),
        "base_bytes_mb": .int((model.weights.count * 4 + (model.quantized?.bytes ?? 0)) / 1_048_576),
        "loss_first": r(Double(firstLoss), 1e4),
        "phase_share": .object(["layers_forward": r(phase[0] / total, 1000), "head_forward_loss": r(phase[1] / total, 1000),
                                "head_backward": r(phase[2] / total, 1000), "layers_backward": r(phase[3] / total, 1000),
                                "optimizer": r(phase[4] / total, 1000)]), "blas_core": .string(BLASInfo.coreName),
    ]).canonical)
}

func peakRSSMegabytes() -> Int {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return usage.ru_maxrss / 1024
}
