import CFastMath
import Foundation
import HoneModel
import HoneTensor

/// AdamW (decoupled weight decay, Loshchilov & Hutter 2019), Adam and SGD with momentum (both
/// with L2 weight decay coupled into the gradient), as PyTorch defines them, over the tensors
/// that train. The moments are packed for those tensors alone: LoRA on a 135M model keeps
/// moments for its adapters only. Weight decay applies only to tensors that `decays`.
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
    public let parameters: [TrainableTensor]
    /// Adam's first and second moments, the parameters' values one after another; SGD's
    /// momentum buffer is `m`.
    public let m: Buffer
    public let v: Buffer
    /// Steps taken (Adam's bias correction counts from 1).
    public var steps: Int = 0
    /// Fixed chunks, each within one tensor: (tensor, range in it, where its moments start).
    /// The update runs chunk by chunk on any number of threads with the same bits.
    let chunks: [(tensor: Int, range: Range<Int>, moments: Int)]
    public var threads = 1

    public init(_ settings: Settings, parameters: [TrainableTensor]) {
        self.settings = settings
        self.parameters = parameters
        let total = parameters.reduce(0) { $0 + $1.count }
        m = Buffer(total)
        v = Buffer(settings.kind == .sgd ? 0 : total)
        var chunks: [(Int, Range<Int>, Int)] = [], start = 0
        for (i, t) in parameters.enumerated() {
            for r in Parallel.slices(t.count, size: 1 << 16) { chunks.append((i, r, start + r.lowerBound)) }
            start += t.count
        }
        self.chunks = chunks
    }

    /// One update with learning rate `lr`.
    public func step(lr: Float) {
        steps += 1
        let s = settings, m = self.m.pointer, parameters = self.parameters
        switch s.kind {
        case .adamw, .adam:
            let v = self.v.pointer
            // Bias corrections in double, as PyTorch computes them.
            let bc1 = 1 - pow(Double(s.beta1), Double(steps)), bc2 = 1 - pow(Double(s.beta2), Double(steps))
            let stepSize = Float(Double(lr) / bc1), bc2Root = Float(bc2.squareRoot())
            Parallel.run(tasks: chunks.count, threads: threads) { c in
                let (tensor, range, start) = chunks[c]
                let t = parameters[tensor], p = t.weights, g = t.grads, m = m + start - range.lowerBound, v = v + start - range.lowerBound
                let wd = t.decays ? s.weightDecay : 0
                Optimizer.adamUpdate(p, g, m, v, range, decoupled: s.kind == .adamw, lr: lr, wd: wd, s, stepSize: stepSize, bc2Root: bc2Root)
            }
        case .sgd:
            let first = steps == 1
            Parallel.run(tasks: chunks.count, threads: threads) { c in
                let (tensor, range, start) = chunks[c]
                let t = parameters[tensor], p = t.weights, g = t.grads, m = m + start - range.lowerBound
                let wd = t.decays ? s.weightDecay : 0
                for i in range {
                    let gi = g[i] + wd * p[i]
                    m[i] = first ? gi : s.momentum * m[i] + gi
                    p[i] -= lr * m[i]
                }
            }
        }
    }
    /// One Adam(W) update over `range`, in CFastMath's hone_adam_update (AVX2 where the CPU has it).
    @inline(__always)
    private static func adamUpdate(_ p: UnsafeMutablePointer<Float>, _ g: UnsafeMutablePointer<Float>, _ m: UnsafeMutablePointer<Float>,
                                   _ v: UnsafeMutablePointer<Float>, _ range: Range<Int>, decoupled: Bool, lr: Float, wd: Float,
                                   _ s: Settings, stepSize: Float, bc2Root: Float) {
        var a = hone_adam(decoupled: decoupled ? 1 : 0, decay: 1 - lr * wd, wd: wd, b1: s.beta1, b2: s.beta2, c1: 1 - s.beta1,
                          c2: 1 - s.beta2, step_size: stepSize, bc2_root: bc2Root, eps: s.eps)
        let i = range.lowerBound
        hone_adam_update(p + i, g + i, m + i, v + i, range.count, &a)
    }
}

/// Clipping by global norm, as torch.nn.utils.clip_grad_norm_: gradients are scaled by
/// max/(norm + 1e-6) when the norm exceeds `max`. The norm is summed in double over fixed
/// chunks of the tensors taken one after another (`sumOfSquares` over each tensor's piece of
/// a chunk), then the chunks in order, so its bits do not depend on the thread count. Returns
/// the norm before clipping.
@discardableResult
public func clipGradients(_ parameters: [TrainableTensor], maxNorm: Float?, threads: Int = 1) -> Float {
    // Chunk c covers positions c·2¹⁶ ..< (c+1)·2¹⁶ of the tensors laid end to end.
    var starts: [Int] = [], total = 0
    for t in parameters { starts.append(total); total += t.count }
    let chunks = Parallel.slices(total, size: 1 << 16)
    func pieces(_ c: Int, _ body: (UnsafeMutablePointer<Float>, Range<Int>) -> Void) {
        let r = chunks[c]
        var i = max(0, (starts.lastIndex { $0 <= r.lowerBound } ?? 0))
        while i < parameters.count, starts[i] < r.upperBound {
            let lo = max(r.lowerBound, starts[i]) - starts[i], hi = min(r.upperBound, starts[i] + parameters[i].count) - starts[i]
            if lo < hi { body(parameters[i].grads, lo..<hi) }
            i += 1
        }
    }
    let ss = withUnsafeTemporaryAllocation(of: Double.self, capacity: max(1, chunks.count)) { partial -> Double in
        Parallel.run(tasks: chunks.count, threads: threads) { c in
            var ss = 0.0
            pieces(c) { g, range in ss += sumOfSquares(g, range) }
            partial[c] = ss
        }
        var ss = 0.0
        for c in 0..<chunks.count { ss += partial[c] }
        return ss
    }
    let norm = Float(ss.squareRoot())
    if let maxNorm, norm.isFinite, norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        Parallel.run(tasks: chunks.count, threads: threads) { c in
            pieces(c) { g, range in for i in range { g[i] *= scale } }
        }
    }
    return norm
}

/// Σ g[i]² over `range` in double, in four running sums (a single one is a dependent add per
/// element: perf put it at 0.5% of a training step) added in order at the end.
@inline(__always)
func sumOfSquares(_ g: UnsafeMutablePointer<Float>, _ range: Range<Int>) -> Double {
    var s0 = 0.0, s1 = 0.0, s2 = 0.0, s3 = 0.0
    var i = range.lowerBound
    while i + 4 <= range.upperBound {
        let a = Double(g[i]), b = Double(g[i + 1]), c = Double(g[i + 2]), d = Double(g[i + 3])
        s0 += a * a; s1 += b * b; s2 += c * c; s3 += d * d
        i += 4
    }
    var s = ((s0 + s1) + s2) + s3
    while i < range.upperBound { s += Double(g[i]) * Double(g[i]); i += 1 }
    return s
}

/// The first tensor whose gradient holds a NaN or an infinity, for the guard's message.
public func firstNonFinite(_ parameters: [TrainableTensor]) -> String? {
    for t in parameters {
        for i in 0..<t.count where !t.grads[i].isFinite { return t.name }
    }
    return nil
}
