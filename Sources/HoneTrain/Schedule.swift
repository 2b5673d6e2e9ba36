import Foundation

/// Learning-rate schedules, each a multiplier of the base rate by optimizer step (0-based):
///
///     warmup      s < w: (s + 1) / w                 (then the schedule below, from step w)
///     constant    1
///     step        gamma ^ ⌊(s − w) / stepSize⌋
///     cosine      min + (1 − min) · ½(1 + cos(π · (s − w) / (total − w)))
///     linear      1 − (s − w) / (total − w)
///     plateau     the `Plateau` controller's factor, changed only by evaluations
public struct Schedule: Sendable, Equatable {
    public enum Kind: String, Sendable, CaseIterable { case constant, step, cosine, linear, plateau }

    public var kind: Kind = .constant
    public var warmup: Int = 0
    public var total: Int = 1
    /// `step`: every stepSize steps multiply by gamma.
    public var stepSize: Int = 1000
    public var gamma: Double = 0.1
    /// `cosine`: the floor, as a fraction of the base rate.
    public var minRatio: Double = 0
    public init() {}

    public func multiplier(step s: Int, plateau: Plateau) -> Double {
        if s < warmup { return Double(s + 1) / Double(warmup) }
        let k = s - warmup, span = Double(max(1, total - warmup))
        switch kind {
        case .constant: return 1
        case .step: return pow(gamma, Double(k / max(1, stepSize)))
        case .cosine: return minRatio + (1 - minRatio) * 0.5 * (1 + cos(.pi * min(1, Double(k) / span)))
        case .linear: return max(0, 1 - Double(k) / span)
        case .plateau: return plateau.factor
        }
    }
}

/// Reduce-on-plateau, as torch.optim.lr_scheduler.ReduceLROnPlateau (mode min, relative
/// threshold): after more than `patience` evaluations without a relative improvement of
/// `threshold`, the factor shrinks by `reduce` (and the count starts again).
public struct Plateau: Sendable, Equatable, Codable {
    public var patience: Int
    public var reduce: Double
    public var threshold: Double
    public private(set) var best: Double = .infinity
    public private(set) var bad: Int = 0
    public private(set) var factor: Double = 1

    public init(patience: Int = 2, reduce: Double = 0.5, threshold: Double = 1e-4) {
        self.patience = patience; self.reduce = reduce; self.threshold = threshold
    }

    mutating func restore(best: Double, bad: Int, factor: Double) {
        self.best = best >= 1e308 ? .infinity : best; self.bad = bad; self.factor = factor
    }

    public mutating func observe(_ loss: Double) {
        if loss < best * (1 - threshold) { best = loss; bad = 0 } else { bad += 1 }
        if bad > patience { factor *= reduce; bad = 0 }
    }
}
