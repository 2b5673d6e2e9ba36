import Foundation
import HoneModel

/// Next-token prediction on token rows (`Examples`): the loss of `pretrain` and `sft`, per
/// loss token.
public final class LanguageModeling: Objective {
    public let examples: Examples
    let targets: UnsafeMutablePointer<Int32>
    let mask: UnsafeMutablePointer<UInt8>
    let capacity: Int

    /// `rows`: the most rows one batch holds.
    public init(_ examples: Examples, rows: Int) {
        self.examples = examples
        capacity = rows * examples.T
        targets = .allocate(capacity: capacity); targets.initialize(repeating: 0, count: capacity)
        mask = .allocate(capacity: capacity); mask.initialize(repeating: 0, count: capacity)
    }

    deinit { targets.deallocate(); mask.deallocate() }

    public var count: Int { examples.count }
    public var T: Int { examples.T }
    public var rowsPerExample: Int { 1 }
    public func weight(_ i: Int) -> Int { examples.lossTokens[i] }

    public var problem: String? {
        examples.lossTokens.contains(where: { $0 > 0 }) ? nil
            : "no example has a token in the loss within \(T + 1) tokens; raise seq_len (responses may start later)"
    }

    public func step(_ model: Model, _ acts: Activations, examples batch: ArraySlice<Int>, normalizer: Int, dropout: Model.DropoutDraw?) -> Double {
        precondition(acts.M <= capacity && acts.T == T, "activations larger than the objective's buffers")
        for (r, ex) in batch.enumerated() {
            examples.fill(ex, tokens: acts.tokens + r * T, targets: targets + r * T, mask: mask + r * T)
        }
        model.forward(acts, dropout: dropout)
        model.lmHeadForward(acts)
        let loss = Double(model.lmLoss(acts, targets: targets, mask: mask, normalizer: max(1, normalizer)))
        model.lmHeadBackward(acts)
        model.backward(acts)
        return loss
    }

    public func evaluate(_ model: Model, _ acts: Activations, batches: Int) -> [String: Double] {
        let loss = meanLoss(model, on: examples, acts: acts, targets: targets, mask: mask, batches: batches).loss
        return ["loss": loss, "perplexity": exp(loss)]
    }
}
