import Foundation
import HoneModel
import HoneTensor

/// AdamW (decoupled weight decay, Loshchilov & Hutter 2019), Adam and SGD with momentum (both
/// with L2 weight decay coupled into the gradient), as PyTorch defines them, over the flat
/// weight buffer. Weight decay applies only to tensors whose layout says `decays`.
public final class Optimizer {
    public enum Kind: String, Sendable, CaseIterable { case adamw, adam, sgd }

    public struct Settings: Sendable, Equatable {
        public var kind: Kind = .adamw
        public var beta1: Float = 0.9
        public var beta2: Float = 0.999
        public var eps: Float = 1e-8
        public var weightDecay: Float = 0
        public var momentum: Float = 0.9
        public init() {}
    }

    public let settings: Settings
    /// Adam's first and second moments; SGD's momentum buffer is `m`.
    public let m: Buffer
    public let v: Buffer
    /// Steps taken (Adam's bias correction counts from 1).
    public var steps: Int = 0
    /// Fixed chunks of the flat buffer, each within one tensor: the update runs chunk by chunk
    /// on any number of threads with the same bits.
    let chunks: [(range: Range<Int>, decays: Bool)]
    public var threads = 1

    public init(_ settings: Settings, layout: ParameterLayout) {
        self.settings = settings
        m = Buffer(layout.count)
        v = Buffer(settings.kind == .sgd ? 0 : layout.count)
        chunks = layout.tensors.flatMap { t in
            Parallel.slices(t.count, size: 1 << 16).map { ((t.offset + $0.lowerBound)..<(t.offset + $0.upperBound), t.decays) }
        }
    }

    /// One update with learning rate `lr`.
    public func step(weights: Buffer, grads: Buffer, lr: Float) {
        steps += 1
        let s = settings, p = weights.pointer, g = grads.pointer, m = self.m.pointer
        switch s.kind {
        case .adamw, .adam:
            let v = self.v.pointer
            // Bias corrections in double, as PyTorch computes them.
            let bc1 = 1 - pow(Double(s.beta1), Double(steps)), bc2 = 1 - pow(Double(s.beta2), Double(steps))
            let stepSize = Float(Double(lr) / bc1), bc2Root = Float(bc2.squareRoot())
            Parallel.run(tasks: chunks.count, threads: threads) { c in
                let (range, decays) = chunks[c]
                let wd = decays ? s.weightDecay : 0
                for i in range {
                    var gi = g[i]
                    if s.kind == .adamw { p[i] *= 1 - lr * wd } else { gi += wd * p[i] }
                    m[i] = s.beta1 * m[i] + (1 - s.beta1) * gi
                    v[i] = s.beta2 * v[i] + (1 - s.beta2) * gi * gi
                    p[i] -= stepSize * m[i] / (v[i].squareRoot() / bc2Root + s.eps)
                }
            }
        case .sgd:
            let first = steps == 1
            Parallel.run(tasks: chunks.count, threads: threads) { c in
                let (range, decays) = chunks[c]
                let wd = decays ? s.weightDecay : 0
                for i in range {
                    let gi = g[i] + wd * p[i]
                    m[i] = first ? gi : s.momentum * m[i] + gi
                    p[i] -= lr * m[i]
                }
            }
        }
    }
}

/// Clipping by global norm, as torch.nn.utils.clip_grad_norm_: gradients are scaled by
/// max/(norm + 1e-6) when the norm exceeds `max`. The norm is summed in double over fixed
/// chunks, then the chunks in order, so its bits do not depend on the thread count.
/// Returns the norm before clipping.
@discardableResult
public func clipGradients(_ grads: Buffer, maxNorm: Float?, threads: Int = 1) -> Float {
    let chunks = Parallel.slices(grads.count, size: 1 << 16)
    let g = grads.pointer
    let ss = withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, chunks.count)) { partial -> Double in
        Parallel.run(tasks: chunks.count, threads: threads) { c in
            var ss = 0.0
            for i in chunks[c] { ss += Double(g[i]) * Double(g[i]) }
            partial[c] = ss
        }
        var ss = 0.0
        for c in 0..<chunks.count { ss += partial[c] }
        return ss
    }
    let norm = Float(ss.squareRoot())
    if let maxNorm, norm.isFinite, norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        Parallel.run(tasks: chunks.count, threads: threads) { c in for i in chunks[c] { g[i] *= scale } }
    }
    return norm
}

/// The first tensor whose gradient holds a NaN or an infinity, for the guard's message.
public func firstNonFinite(_ grads: Buffer, layout: ParameterLayout) -> String? {
    for t in layout.tensors {
        for i in t.offset..<(t.offset + t.count) where !grads[i].isFinite { return t.name }
    }
    return nil
}
