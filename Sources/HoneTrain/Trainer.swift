import Foundation
import HoneBase
import HoneModel
import HoneTensor

/// Everything the training loop is told, with its defaults.
public struct TrainSettings: Sendable {
    public var steps: Int = 100
    /// Rows per micro-batch, and micro-batches per optimizer step.
    public var batchSize: Int = 8
    public var gradAccumulation: Int = 1
    public var learningRate: Float = 1e-3
    public var optimizer = Optimizer.Settings()
    public var schedule = Schedule()
    public var plateau = Plateau()
    /// nil: no clipping.
    public var maxGradNorm: Float? = 1
    /// 0: never.
    public var evalEvery: Int = 0
    /// Evaluate once before the first step (step 0 in the history): the base model's val loss.
    public var evalBefore = false
    /// Largest number of val batches per evaluation (0: all of val).
    public var evalBatches: Int = 0
    /// Evaluations without improvement before stopping (0: never stop early).
    public var patience: Int = 0
    public var saveSteps: Int = 0
    public var saveTotalLimit: Int = 2
    public var shuffle = true
    public var dataKey: UInt64 = 0
    public var dropoutKey: UInt64 = 0
    public init() {}
}

/// What a finished run reports.
public struct TrainOutcome {
    /// One JSON object per step ({step, loss, lr, grad_norm}) and per evaluation ({step, val_loss, val_perplexity}).
    public var history: [JSONValue]
    public var steps: Int
    public var bestStep: Int?
    public var bestValLoss: Double?
    public var stoppedEarly: Bool
    /// Mean training loss over the last min(10, steps) steps.
    public var finalTrainLoss: Double
}

/// Progress as the loop goes; not part of any output (tok/s depends on the machine).
public struct StepReport {
    public let step: Int, total: Int
    public let loss: Double, lr: Double, gradNorm: Double, tokensPerSecond: Double
    public let valLoss: Double?
}

/// The training loop of `pretrain`, `sft` and `reward`: micro-batches with accumulation, the
/// schedule, clipping, the NaN/Inf guard, evaluation, early stopping and checkpoints in
/// `scratch`, from which a killed run resumes to the same bytes. What is minimised is the
/// `Objective`'s business.
public final class Trainer {
    public let model: Model
    public let settings: TrainSettings
    let train: Objective
    let val: Objective?
    let acts: Activations
    let optimizer: Optimizer

    // State a checkpoint carries.
    var step = 0
    var consumed = 0
    var plateau: Plateau
    var history: [JSONValue] = []
    var best: (step: Int, loss: Double)?
    var badEvals = 0
    var bestWeights: Buffer?
    var stoppedEarly = false

    /// Called after each step's backward, before the guard: fault injection for tests.
    public var afterBackward: ((Model) -> Void)?

    public init(model: Model, settings: TrainSettings, train: Objective, val: Objective?) {
        precondition(val.map { $0.T == train.T && $0.rowsPerExample == train.rowsPerExample } ?? true, "train and val rows differ")
        self.model = model; self.settings = settings; self.train = train; self.val = val
        acts = Activations(for: model, B: settings.batchSize * train.rowsPerExample, T: train.T)
        optimizer = Optimizer(settings.optimizer, parameters: model.trainable)
        optimizer.threads = model.threads
        plateau = settings.plateau
    }

    /// Language modelling on token rows (pretrain, sft).
    public convenience init(model: Model, settings: TrainSettings, train: Examples, val: Examples?) {
        self.init(model: model, settings: settings, train: LanguageModeling(train, rows: settings.batchSize),
                  val: val.map { LanguageModeling($0, rows: settings.batchSize) })
    }

    /// Trains to `settings.steps` (or until early stopping), resuming from the newest checkpoint
    /// in `scratch` when there is one.
    public func run(scratch: URL?, report: (StepReport) throws -> Void, log: (String) -> Void) throws -> TrainOutcome {
        guard train.count > 0 else { throw TrainError("the training data holds no example of \(train.T + 1) tokens") }
        if let problem = train.problem { throw TrainError("training data: \(problem)") }
        if let problem = val?.problem { throw TrainError("val data: \(problem); val loss is undefined") }
        if let scratch, let last = Checkpoint.list(in: scratch).last {
            try restore(try Checkpoint.read(last.url))
            log("resumed from \(last.url.lastPathComponent) (step \(step) of \(settings.steps))")
            // A kill between a checkpoint's rename and the pruning leaves one too many.
            Checkpoint.prune(scratch, keep: settings.saveTotalLimit)
        }
        if let val, settings.evalBefore, step == 0, history.isEmpty {
            let v = record(evaluation: val, step: 0)
            observe(valLoss: v)
            log(String(format: "before training: val loss %.4f", v))
        }
        var order = epochOrder(train.count, epoch: consumed / train.count, key: settings.dataKey, shuffle: settings.shuffle)
        var orderEpoch = consumed / train.count
        let rowsPerStep = settings.batchSize * settings.gradAccumulation
        while step < settings.steps && !stoppedEarly {
            let started = Date()
            let lr = settings.learningRate * Float(settings.schedule.multiplier(step: step, plateau: plateau))
            // The whole batch's loss tokens divide every micro-batch's loss: k micro-batches of
            // b rows then add up to one batch of k·b rows.
            var rows: [Int] = []
            for r in 0..<rowsPerStep {
                let c = consumed + r
                if c / train.count != orderEpoch {
                    orderEpoch = c / train.count
                    order = epochOrder(train.count, epoch: orderEpoch, key: settings.dataKey, shuffle: settings.shuffle)
                }
                rows.append(order[c % train.count])
            }
            let normalizer = rows.reduce(0) { $0 + train.weight($1) }
            model.zeroGrads()
            var loss = 0.0
            for micro in 0..<settings.gradAccumulation {
                let batch = rows[(micro * settings.batchSize)..<((micro + 1) * settings.batchSize)]
                let pass = UInt64(step * settings.gradAccumulation + micro)
                loss += train.step(model, acts, examples: batch, normalizer: normalizer,
                                   dropout: model.usesDropout ? Model.DropoutDraw(key: settings.dropoutKey, pass: pass) : nil)
            }
            consumed += rowsPerStep
            step += 1
            afterBackward?(model)
            if !loss.isFinite { throw ModelError.nonFiniteLoss(step: step) }
            // The global norm is finite exactly when every gradient is: the tensor-by-tensor scan
            // runs only to name the culprit.
            let norm = clipGradients(model.trainable, maxNorm: settings.maxGradNorm, threads: model.threads)
            if !norm.isFinite {
                throw ModelError.nonFinite(step: step, tensor: firstNonFinite(model.trainable) ?? "the gradients (global norm overflowed)")
            }
            optimizer.step(lr: lr)
            history.append(.object(["step": .int(step), "loss": .double(round6(loss)), "lr": .double(Double(lr)),
                                    "grad_norm": .double(round6(Double(norm)))]))
            var valLoss: Double?
            if let val, settings.evalEvery > 0, step % settings.evalEvery == 0 || step == settings.steps {
                let v = record(evaluation: val, step: step)
                valLoss = v
                observe(valLoss: v)
            }
            let seconds = Date().timeIntervalSince(started)
            try report(StepReport(step: step, total: settings.steps, loss: loss, lr: Double(lr), gradNorm: Double(norm),
                              tokensPerSecond: Double(rowsPerStep * train.T) / max(seconds, 1e-9), valLoss: valLoss))
            let saveDue = settings.saveSteps > 0 && step % settings.saveSteps == 0
            // The last step is always saved: a kill while outputs are written then costs no training.
            if let scratch, saveDue || step == settings.steps || stoppedEarly {
                try checkpoint().write(to: scratch, step: step, keep: settings.saveTotalLimit)
            }
        }
        if settings.patience > 0, let bestWeights { model.restoreTrainable(from: bestWeights) }
        let losses = history.compactMap { $0["loss"]?.doubleValue }
        let tail = losses.suffix(10)
        return TrainOutcome(history: history, steps: step, bestStep: best?.step, bestValLoss: best?.loss,
                            stoppedEarly: stoppedEarly, finalTrainLoss: tail.isEmpty ? 0 : round6(tail.reduce(0, +) / Double(tail.count)))
    }

    /// The objective's metrics over `data` (in order, no dropout), up to `evalBatches` batches.
    public func evaluate(_ data: Objective) -> [String: Double] {
        data.evaluate(model, acts, batches: settings.evalBatches)
    }

    /// Evaluates on val and appends {step, val_…} to the history; returns the val loss.
    func record(evaluation val: Objective, step: Int) -> Double {
        let metrics = evaluate(val)
        var line: [String: JSONValue] = ["step": .int(step)]
        for (k, v) in metrics { line["val_" + k] = .double(round6(v)) }
        history.append(.object(line))
        return metrics["loss"] ?? .nan
    }

    func observe(valLoss v: Double) {
        guard v.isFinite else { return }
        plateau.observe(v)
        if best.map({ v < $0.loss }) ?? true {
            best = (step, v)
            badEvals = 0
            if settings.patience > 0 {
                let copy = bestWeights ?? Buffer(model.trainableCount)
                model.copyTrainable(into: copy)
                bestWeights = copy
            }
        } else {
            badEvals += 1
            if settings.patience > 0 && badEvals >= settings.patience { stoppedEarly = true }
        }
    }

    /// Six significant decimals: history lines stay short and still compare exactly across runs.
    func round6(_ x: Double) -> Double { x.isFinite ? (x * 1e6).rounded() / 1e6 : x }

    func checkpoint() -> Checkpoint {
        var state = Checkpoint.trainingState(model, optimizer).merging([
            "step": .int(step), "consumed": .int(consumed),
            "history": .array(history), "bad_evals": .int(badEvals), "stopped_early": .bool(stoppedEarly),
            "plateau": .object(["best": .double(plateau.best.isFinite ? plateau.best : 1e308), "bad": .int(plateau.bad),
                                "factor": .double(plateau.factor)]),
            // What makes a checkpoint loadable as a base model on its own.
            "config": model.config.hfJSON,
        ]) { $1 }
        if let best { state["best"] = .object(["step": .int(best.step), "loss": .double(best.loss)]) }
        var arrays = Checkpoint.trainingArrays(model, optimizer)
        if let bestWeights { arrays.append(("best_weights", [UnsafeBufferPointer(bestWeights.buffer)])) }
        return Checkpoint(state: .object(state), arrays: arrays)
    }

    func restore(_ c: Checkpoint) throws {
        let s = c.state
        try c.restoreTraining(model, optimizer, mismatch: "the checkpoint does not match this model (different config or tuning method?)")
        bestWeights = c.array("best_weights")
        if let b = bestWeights, b.count != model.trainableCount { throw TrainError("the checkpoint's best weights do not match this model") }
        step = s["step"]?.intValue ?? 0
        consumed = s["consumed"]?.intValue ?? 0
        history = s["history"]?.arrayValue ?? []
        badEvals = s["bad_evals"]?.intValue ?? 0
        stoppedEarly = s["stopped_early"]?.boolValue ?? false
        if let b = s["best"], let st = b["step"]?.intValue, let l = b["loss"]?.doubleValue { best = (st, l) }
        if let p = s["plateau"] {
            plateau.restore(best: p["best"]?.doubleValue ?? .infinity, bad: p["bad"]?.intValue ?? 0, factor: p["factor"]?.doubleValue ?? 1)
        }
    }
}

public struct TrainError: Error, CustomStringConvertible {
    public let description: String
    public init(_ d: String) { description = d }
}
