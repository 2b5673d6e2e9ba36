import Foundation
import HoneModel

/// One preference: the token ids of prompt + chosen response and of prompt + rejected response,
/// each rendered the way the policy sees them.
public struct PreferencePair: Sendable, Equatable {
    public let chosen: [Int32]
    public let rejected: [Int32]
    public init(chosen: [Int32], rejected: [Int32]) { self.chosen = chosen; self.rejected = rejected }
}

/// Reward modelling (Bradley–Terry, as InstructGPT trains its reward model): the scalar head's
/// score r at a sequence's last token, and per pair the loss −log σ(r_chosen − r_rejected).
/// A pair takes two rows of a batch: its chosen sequence, then its rejected one.
public final class RewardModeling: Objective {
    public let pairs: [PreferencePair]
    public let T: Int

    public init(_ pairs: [PreferencePair], T: Int) { self.pairs = pairs; self.T = T }

    public var count: Int { pairs.count }
    public var rowsPerExample: Int { 2 }
    public func weight(_ i: Int) -> Int { 1 }
    public var problem: String? { pairs.isEmpty ? "there are no preference pairs" : nil }

    /// Writes `sequence` into row r — its last T tokens when it is longer, so the scored token is
    /// always its own last one — and returns the row index of that last token in the batch.
    static func fill(_ acts: Activations, row r: Int, _ sequence: [Int32]) -> Int {
        let T = acts.T, kept = sequence.suffix(T)
        for (t, token) in kept.enumerated() { acts.tokens[r * T + t] = token }
        for t in kept.count..<T { acts.tokens[r * T + t] = 0 }
        return r * T + max(0, kept.count - 1)
    }

    /// −log σ(m) without overflow for large |m|.
    static func softplusOfNegative(_ m: Double) -> Double { m > 0 ? log1p(exp(-m)) : -m + log1p(exp(m)) }

    /// Writes a batch of pairs into the rows; returns where each pair's two scores will be.
    func fill(_ acts: Activations, _ batch: ArraySlice<Int>) -> [(chosen: Int, rejected: Int)] {
        var rows: [(Int, Int)] = []
        for (i, p) in batch.enumerated() { rows.append((Self.fill(acts, row: 2 * i, pairs[p].chosen), Self.fill(acts, row: 2 * i + 1, pairs[p].rejected))) }
        for r in (2 * batch.count)..<acts.B { _ = Self.fill(acts, row: r, []) }
        return rows
    }

    public func step(_ model: Model, _ acts: Activations, examples batch: ArraySlice<Int>, normalizer: Int, dropout: Model.DropoutDraw?) -> Double {
        let rows = fill(acts, batch)
        model.forward(acts, dropout: dropout)
        model.scoreForward(acts)
        acts.dscores.zero()
        var loss = 0.0
        let n = Double(max(1, normalizer))
        for (c, r) in rows {
            let margin = Double(acts.scores[c]) - Double(acts.scores[r])
            loss += Self.softplusOfNegative(margin) / n
            // d/dmargin of −log σ(margin) is −σ(−margin).
            let g = -1 / (1 + exp(margin)) / n
            acts.dscores[c] = Float(g)
            acts.dscores[r] = Float(-g)
        }
        model.scoreBackward(acts)
        model.backward(acts)
        return loss
    }

    public func evaluate(_ model: Model, _ acts: Activations, batches: Int) -> [String: Double] {
        let perBatch = acts.B / 2, all = (pairs.count + perBatch - 1) / perBatch
        var loss = 0.0, right = 0.0, margins = 0.0, n = 0
        for b in 0..<(batches > 0 ? min(all, batches) : all) {
            let batch = Array(0..<pairs.count)[(b * perBatch)..<min(pairs.count, (b + 1) * perBatch)]
            let rows = fill(acts, batch)
            model.forward(acts)
            model.scoreForward(acts)
            for (c, r) in rows {
                let margin = Double(acts.scores[c]) - Double(acts.scores[r])
                loss += Self.softplusOfNegative(margin)
                margins += margin
                right += margin > 0 ? 1 : 0
                n += 1
            }
        }
        let count = Double(max(1, n))
        return ["loss": loss / count, "accuracy": right / count, "margin": margins / count]
    }

    /// The scores of whole sequences, batch by batch (acts.B rows each): what a reward model
    /// says of the policy's rollouts.
    public static func scores(_ model: Model, _ acts: Activations, sequences: [[Int32]]) -> [Double] {
        var out: [Double] = []
        var start = 0
        while start < sequences.count {
            let batch = sequences[start..<min(sequences.count, start + acts.B)]
            var rows: [Int] = []
            for (r, s) in batch.enumerated() { rows.append(fill(acts, row: r, s)) }
            for r in batch.count..<acts.B { _ = fill(acts, row: r, []) }
            model.forward(acts)
            model.scoreForward(acts)
            out += rows.map { Double(acts.scores[$0]) }
            start += acts.B
        }
        return out
    }
}
