import HoneBase
import HoneTensor

/// LoRA's hyperparameters, named as Hugging Face PEFT names them.
public struct LoRAConfig: Equatable, Sendable {
    public var rank: Int = 8
    public var alpha: Float = 16
    public var dropout: Float = 0
    public var targets: [Projection] = Projection.allCases
    public init() {}
    /// α/r: what scales the low-rank update.
    public var scale: Float { alpha / Float(rank) }
}

/// LoRA (Hu et al. 2021): each targeted projection W [out, in] of the frozen base gains a
/// low-rank update,
///
///     y = x·Wᵀ + s · drop(x)·Aᵀ·Bᵀ,   A [r, in], B [out, r], s = α/r
///
/// A starts uniform in ±1/√in (PEFT's Kaiming-uniform with a = √5) and B at zero, so training
/// starts exactly at the base model. The forward keeps v = s·drop(x)·Aᵀ [M, r] per projection;
/// the backward, given dy:
///
///     dB += dyᵀ·v     dv = dy·B     du = s·dv     dA += duᵀ·drop(x)     dx += drop'(du·A)
///
/// The dropout mask is not kept: it is a pure function of its key and offset, so the backward
/// draws it again (one [M, in] scratch instead of one per projection and layer).
///
/// Tensors are named as PEFT names them without its `base_model.model.` prefix:
/// `model.layers.0.self_attn.q_proj.lora_A.weight`.
public final class LoRA {
    public let config: LoRAConfig
    public let layout: ParameterLayout
    public let weights: Buffer
    public let grads: Buffer
    /// [layer][projection index]: where A and B sit, for targeted projections.
    let slots: [[Slot?]]
    let slotCount: Int
    /// Widest input of a targeted projection (dropout scratch rows).
    let widestInput: Int

    struct Slot {
        let a: Int, b: Int, inFeatures: Int, outFeatures: Int
        /// Position among all slots: separates the dropout draws of different projections.
        let number: Int
    }

    public init(model c: ModelConfig, config: LoRAConfig, key: UInt64) {
        precondition(config.rank >= 1 && !config.targets.isEmpty, "LoRA needs rank ≥ 1 and a target")
        self.config = config
        var list: [(name: String, shape: [Int])] = []
        for l in 0..<c.layers {
            for p in Projection.allCases where config.targets.contains(p) {
                let s = p.shape(c)
                list.append((p.module(layer: l) + ".lora_A.weight", [config.rank, s.in]))
                list.append((p.module(layer: l) + ".lora_B.weight", [s.out, config.rank]))
            }
        }
        let layout = ParameterLayout(list)
        self.layout = layout
        weights = Buffer(layout.count)
        grads = Buffer(layout.count)
        var number = 0, widest = 0
        slots = (0..<c.layers).map { l in
            Projection.allCases.map { p -> Slot? in
                guard config.targets.contains(p), let a = layout[p.module(layer: l) + ".lora_A.weight"],
                      let b = layout[p.module(layer: l) + ".lora_B.weight"] else { return nil }
                let s = p.shape(c)
                defer { number += 1 }
                widest = max(widest, s.in)
                return Slot(a: a.offset, b: b.offset, inFeatures: s.in, outFeatures: s.out, number: number)
            }
        }
        slotCount = number
        widestInput = widest
        // Each A draws from its own position range, so the init of one never depends on another.
        for t in layout.tensors where t.name.hasSuffix("lora_A.weight") {
            var rng = CounterRNG(key: key, position: UInt64(t.offset) * 2)
            let bound = 1 / Float(t.shape[1]).squareRoot()
            for i in 0..<t.count { weights[t.offset + i] = Float(2 * rng.nextDouble() - 1) * bound }
        }
    }

    func slot(_ l: Int, _ p: Projection) -> Slot? { slots[l][p.index] }

    /// The stream LoRA's dropout draws from: derived from the pass's key, apart from the
    /// residual dropout's stream.
    static func dropoutKey(_ key: UInt64) -> UInt64 {
        var rng = CounterRNG(key: key, position: 1 << 60)
        return rng.nextUInt64()
    }

    /// drop(x) into `a.xs` (and its mask into `a.mask`), the same draw in forward and backward.
    private func dropped(_ s: Slot, inp: UnsafePointer<Float>, M: Int, _ a: LoRAActivations, _ draw: Model.DropoutDraw, threads: Int) {
        let n = M * s.inFeatures
        a.xs.pointer.update(from: inp, count: n)
        let offset = (draw.pass * UInt64(slotCount) + UInt64(s.number)) * UInt64(M * widestInput)
        Dropout.forward(a.xs.pointer, mask: a.mask.pointer, count: n, p: config.dropout, key: Self.dropoutKey(draw.key),
                        offset: offset, threads: threads)
    }

    /// out[M, out] += s · drop(inp)·Aᵀ·Bᵀ, keeping v = s·drop(inp)·Aᵀ in `v`.
    func forward(_ s: Slot, out: UnsafeMutablePointer<Float>, inp: UnsafePointer<Float>, v: Buffer, M: Int,
                 _ a: LoRAActivations, dropout draw: Model.DropoutDraw?, threads: Int) {
        var x = inp
        if config.dropout > 0, let draw {
            dropped(s, inp: inp, M: M, a, draw, threads: threads)
            x = UnsafePointer(a.xs.pointer)
        }
        let w = weights.pointer
        Matmul.forward(out: v.pointer, inp: x, weight: w + s.a, bias: nil, M: M, K: s.inFeatures, N: config.rank,
                       alpha: config.scale, threads: threads)
        Matmul.forward(out: out, inp: v.pointer, weight: w + s.b, bias: nil, M: M, K: config.rank, N: s.outFeatures,
                       accumulate: true, threads: threads)
    }

    /// Given dout [M, out]: the gradients of A and B, and dinp += the branch's input gradient.
    func backward(_ s: Slot, dinp: UnsafeMutablePointer<Float>, dout: UnsafePointer<Float>, inp: UnsafePointer<Float>,
                  v: Buffer, M: Int, _ a: LoRAActivations, dropout draw: Model.DropoutDraw?, threads: Int) {
        let w = weights.pointer, g = grads.pointer, r = config.rank
        Matmul.backward(dinp: a.dv.pointer, dweight: g + s.b, dbias: nil, dout: dout, inp: v.pointer, weight: w + s.b,
                        M: M, K: r, N: s.outFeatures, accumulateInput: false, threads: threads)
        let dv = a.dv.pointer, scale = config.scale
        for i in 0..<(M * r) { dv[i] *= scale }
        if config.dropout > 0, let draw {
            dropped(s, inp: inp, M: M, a, draw, threads: threads)
            Matmul.backward(dinp: a.dx.pointer, dweight: g + s.a, dbias: nil, dout: dv, inp: a.xs.pointer, weight: w + s.a,
                            M: M, K: s.inFeatures, N: r, accumulateInput: false, threads: threads)
            let dx = a.dx.pointer, mask = a.mask.pointer
            let slices = Parallel.slices(M * s.inFeatures, size: Dropout.elementsPerTask)
            Parallel.run(tasks: slices.count, threads: threads) { t in for i in slices[t] { dinp[i] += dx[i] * mask[i] } }
        } else {
            Matmul.backward(dinp: dinp, dweight: g + s.a, dbias: nil, dout: dv, inp: inp, weight: w + s.a,
                            M: M, K: s.inFeatures, N: r, threads: threads)
        }
    }

    /// weight [out, in] += s·B·A: the update folded into the base projection.
    func merge(_ s: Slot, into weight: UnsafeMutablePointer<Float>, threads: Int) {
        let r = config.rank, a = weights.pointer + s.a
        let aT = Buffer(s.inFeatures * r)
        for i in 0..<r { for j in 0..<s.inFeatures { aT[j * r + i] = a[i * s.inFeatures + j] } }
        Matmul.forward(out: weight, inp: weights.pointer + s.b, weight: aT.pointer, bias: nil, M: s.outFeatures, K: r,
                       N: s.inFeatures, alpha: config.scale, accumulate: true, threads: threads)
    }

    /// PEFT's `adapter_config.json` for these adapters.
    public func peftConfig(baseModel: String?) -> JSONValue {
        .object([
            "peft_type": .string("LORA"), "task_type": .string("CAUSAL_LM"),
            "r": .int(config.rank), "lora_alpha": .double(Double(config.alpha)), "lora_dropout": .double(Double(config.dropout)),
            "target_modules": .array(Projection.allCases.filter { config.targets.contains($0) }.map { .string($0.rawValue) }),
            "bias": .string("none"), "fan_in_fan_out": .bool(false), "inference_mode": .bool(true),
            "init_lora_weights": .bool(true), "modules_to_save": .null, "use_rslora": .bool(false), "use_dora": .bool(false),
            "base_model_name_or_path": baseModel.map { .string($0) } ?? .null,
        ])
    }

    /// PEFT's tensor names: `base_model.model.` before Hone's.
    public static let peftPrefix = "base_model.model."
}

/// What LoRA keeps between one pass's forward and backward, and its backward scratch.
final class LoRAActivations {
    /// v = s·drop(x)·Aᵀ [M, r], per layer and projection (nil where no adapter sits).
    let v: [[Buffer?]]
    let dv: Buffer
    /// Dropout scratch [M, widest input]: drop(x), its mask, and the branch's dx before the mask.
    let xs: Buffer, mask: Buffer, dx: Buffer

    init(_ lora: LoRA, M: Int) {
        v = lora.slots.map { layer in layer.map { $0.map { _ in Buffer(M * lora.config.rank) } } }
        dv = Buffer(M * lora.config.rank)
        let n = lora.config.dropout > 0 ? M * lora.widestInput : 0
        xs = Buffer(n); mask = Buffer(n); dx = Buffer(n)
    }

    var floats: Int { v.joined().reduce(0) { $0 + ($1?.count ?? 0) } + dv.count + xs.count + mask.count + dx.count }
}
