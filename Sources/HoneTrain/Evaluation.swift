import HoneModel
import HoneTensor

/// Mean loss per loss token of `model` over `examples` — in order, no dropout — in batches of
/// acts.B rows, at most `batches` of them (0: all): what val loss and perplexity report. The
/// last batch is padded with rows outside the loss. NaN when no token is in the loss.
public func meanLoss(_ model: Model, on examples: Examples, acts: Activations, targets: UnsafeMutablePointer<Int32>,
                     mask: UnsafeMutablePointer<UInt8>, batches: Int = 0) -> (loss: Double, tokens: Int) {
    var sum = 0.0, tokens = 0
    precondition(examples.T == acts.T, "examples and activations differ in length")
    let B = acts.B, T = examples.T
    let all = (examples.count + B - 1) / B
    for b in 0..<(batches > 0 ? min(all, batches) : all) {
        for r in 0..<B {
            let ex = b * B + r
            if ex < examples.count {
                examples.fill(ex, tokens: acts.tokens + r * T, targets: targets + r * T, mask: mask + r * T)
            } else {
                for t in 0..<T { acts.tokens[r * T + t] = 0; targets[r * T + t] = 0; mask[r * T + t] = 0 }
            }
        }
        model.forward(acts)
        model.lmHeadForward(acts)
        _ = model.lmLoss(acts, targets: targets, mask: mask)
        for m in 0..<acts.M where mask[m] != 0 { sum += Double(acts.rowLosses[m]); tokens += 1 }
    }
    return (tokens > 0 ? sum / Double(tokens) : .nan, tokens)
}
