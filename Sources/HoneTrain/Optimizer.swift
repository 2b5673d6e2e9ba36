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
    let decays: [(range: Range<Int>, decays: Bool)]

    public init(_ settings: Settings, layout: ParameterLayout) {
        self.settings = settings
        m = Buffer(layout.count)
        v = Buffer(settings.kind == .sgd ? 0 : layout.count)
        decays = layout.tensors.map { ($0.offset..<($0.offset + $0.count), $0.decays) }
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
            for (range, decays) in decays {
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
            for (range, decays) in decays {
                let wd = decays ? s.weightDecay : 0
                for i in range {
                    let gi = g[i] + wd * p[i]
                    m[i] = steps == 1 ? gi : s.momentum * m[i] + gi
                    p[i] -= lr * m[i]
                }
            }
        }
    }
}

/// Clipping by global norm, as torch.nn.utils.clip_grad_norm_: the norm is summed in double in
/// layout order, and gradients are scaled by max/(norm + 1e-6) when the norm exceeds `max`.
/// Returns the norm before clipping.
@discardableResult
public func clipGradients(_ grads: Buffer, maxNorm: Float?) -> Float {
    var ss = 0.0
    for i in 0..<grads.count { ss += Double(grads[i]) * Double(grads[i]) }
    let norm = Float(ss.squareRoot())
    if let maxNorm, norm.isFinite, norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        for i in 0..<grads.count { grads[i] *= scale }
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
