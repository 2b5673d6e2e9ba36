import HoneModel

/// What a training loop minimises: a set of examples (token rows, or pairs of rows), how one
/// micro-batch of them runs forward and backward, and what an evaluation reports. `Trainer`
/// owns everything else — order, accumulation, schedule, clipping, checkpoints — so language
/// modelling and reward modelling share one loop.
public protocol Objective: AnyObject {
    /// Examples in all.
    var count: Int { get }
    /// Tokens per row.
    var T: Int { get }
    /// Rows one example takes in a batch (a preference pair: two).
    var rowsPerExample: Int { get }
    /// How much of a batch's loss example i carries (loss tokens; one for a pair): the
    /// normaliser that makes k micro-batches of b equal one batch of k·b.
    func weight(_ i: Int) -> Int
    /// Why the examples cannot train (e.g. no token in the loss), or nil.
    var problem: String? { get }
    /// Runs `examples` (at most acts.B / rowsPerExample of them) forward and backward,
    /// accumulating the gradients of the loss divided by `normalizer`; returns that loss.
    func step(_ model: Model, _ acts: Activations, examples: ArraySlice<Int>, normalizer: Int, dropout: Model.DropoutDraw?) -> Double
    /// Metrics over the examples, in order and without dropout, up to `batches` batches (0:
    /// all). "loss" is what early stopping and the plateau schedule watch.
    func evaluate(_ model: Model, _ acts: Activations, batches: Int) -> [String: Double]
}
