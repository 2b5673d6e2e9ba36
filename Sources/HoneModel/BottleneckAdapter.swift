import HoneTensor

/// A bottleneck adapter (Houlsby et al. 2019; placed after the MLP as Pfeiffer et al. 2020 do):
/// the MLP branch's output y [M, d] becomes
///
///     y' = y + silu(y·Wdᵀ + bd)·Wuᵀ + bu,   Wd [m, d], bd [m], Wu [d, m], bu [d]
///
/// before the residual add: 2md + m + d parameters a layer. Wu and the biases start at zero, so
/// the adapted model starts as the base. Unlike LoRA it cannot be folded into the base weights:
/// the adapters stay in the model (`ModelConfig.adapterSize`), and its files say it is not a
/// plain Llama.
///
/// Backward, given dy' (the branch's gradient):
///
///     dWu += dy'ᵀ·a   dbu += Σ dy'   da = dy'·Wu   dz = da ⊙ silu'(z)
///     dWd += dzᵀ·y    dbd += Σ dz    dy = dy' + dz·Wd
public enum BottleneckAdapter {
    static func prefix(_ l: Int) -> String { "model.layers.\(l).mlp.adapter." }

    /// The four tensors of layer l's adapter, in layout order.
    static func tensors(layer l: Int, d: Int, m: Int) -> [(String, [Int])] {
        let p = prefix(l)
        return [(p + "down.weight", [m, d]), (p + "down.bias", [m]), (p + "up.weight", [d, m]), (p + "up.bias", [d])]
    }

    /// Every adapter tensor's name in a model with `config`.
    public static func names(_ config: ModelConfig) -> Set<String> {
        guard config.adapterSize > 0 else { return [] }
        return Set((0..<config.layers).flatMap { l in tensors(layer: l, d: config.hiddenSize, m: config.adapterSize).map(\.0) })
    }

    static func startsAtZero(_ name: String) -> Bool {
        name.contains(".mlp.adapter.") && (name.hasSuffix(".bias") || name.hasSuffix("up.weight"))
    }

    /// A base model with adapters of width m added: the base tensors as they were, Wd drawn
    /// N(0, initStd²) from `key`, the rest zero.
    public static func adding(to config: ModelConfig, weights: Buffer, size m: Int, key: UInt64) -> (config: ModelConfig, weights: Buffer) {
        var c = config
        c.adapterSize = m
        let new = ParameterLayout(c), fresh = initialWeights(new, config: c, key: key)
        new.copy(weights, from: ParameterLayout(config), into: fresh)
        return (c, fresh)
    }

    struct Offsets { let down, downBias, up, upBias: Int }

    static func offsets(_ layout: ParameterLayout, layer l: Int) -> Offsets? {
        let p = prefix(l)
        guard let d = layout[p + "down.weight"], let db = layout[p + "down.bias"], let u = layout[p + "up.weight"],
              let ub = layout[p + "up.bias"] else { return nil }
        return Offsets(down: d.offset, downBias: db.offset, up: u.offset, upBias: ub.offset)
    }

    /// y [M, d] → y' in place, keeping y, z = y·Wdᵀ + bd, σ(z) and a = silu(z) in `x`.
    static func forward(_ y: UnsafeMutablePointer<Float>, _ o: Offsets, weights w: UnsafePointer<Float>, _ x: AdapterActivations,
                        M: Int, d: Int, m: Int, threads: Int) {
        x.input.pointer.update(from: y, count: M * d)
        Matmul.forward(out: x.z.pointer, inp: x.input.pointer, weight: w + o.down, bias: w + o.downBias, M: M, K: d, N: m, threads: threads)
        SiLU.forward(out: x.a.pointer, sigmoid: x.sig.pointer, inp: x.z.pointer, count: M * m, threads: threads)
        Matmul.forward(out: y, inp: x.a.pointer, weight: w + o.up, bias: w + o.upBias, M: M, K: m, N: d, accumulate: true, threads: threads)
    }

    /// Given dy' [M, d]: the adapter's gradients (nil: frozen) and dy [M, d] into `dy`.
    static func backward(dy: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, _ o: Offsets, weights w: UnsafePointer<Float>,
                         grad: (Int) -> UnsafeMutablePointer<Float>?, _ x: AdapterActivations, scratch da: Buffer,
                         M: Int, d: Int, m: Int, threads: Int) {
        Matmul.backward(dinp: da.pointer, dweight: grad(o.up), dbias: grad(o.upBias), dout: dout, inp: x.a.pointer, weight: w + o.up,
                        M: M, K: m, N: d, accumulateInput: false, threads: threads)
        SiLU.backward(dinp: da.pointer, dout: da.pointer, inp: x.z.pointer, sigmoid: x.sig.pointer, count: M * m, threads: threads)
        dy.update(from: dout, count: M * d)
        Matmul.backward(dinp: dy, dweight: grad(o.down), dbias: grad(o.downBias), dout: da.pointer, inp: x.input.pointer, weight: w + o.down,
                        M: M, K: d, N: m, threads: threads)
    }
}

/// What one layer's adapter keeps from its forward for its backward.
final class AdapterActivations {
    let input: Buffer, z: Buffer, sig: Buffer, a: Buffer

    init(M: Int, d: Int, m: Int) {
        input = Buffer(M * d); z = Buffer(M * m); sig = Buffer(M * m); a = Buffer(M * m)
    }

    var floats: Int { input.count + z.count + sig.count + a.count }
}
