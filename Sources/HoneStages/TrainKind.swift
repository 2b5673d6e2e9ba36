import HoneBase
import HonePipeline
import HoneTrain

/// `pretrain` and `sft`: one kind of work (TrainStage), two ways of cutting the examples, each
/// tuning the whole model or part of it (`method`, TuningParams).
///
/// - pretrain: next-token prediction on packed token shards, every token in the loss.
/// - sft: supervised fine-tuning on rendered instruction or chat records (tokenize with a chat
///   template), one record per row, the loss on the response tokens only.
struct TrainKind: StageKind {
    let name: String
    /// 2: the `adapter` output and the PEFT methods; checkpoints record what trains.
    /// 3: products of 2048 rows or more run in 512-row tasks (Matmul.rowsPerTask), which changes their bits.
    /// 4: causal attention skips the blocks above the diagonal (Attention.block) and its backward sums rows in lanes (Lanes.dot); the gradient norm sums in four running sums.
    let version = "4"
    let summary: String
    let packing: Examples.Packing
    let isNumeric = true
    let inputs = TrainStage.inputs
    let outputs = TrainStage.outputs
    let params = TrainParams.model + TrainParams.training + TuningParams.specs

    static let pretrain = TrainKind(name: "pretrain", summary: "train a Llama decoder on token shards (next-token loss on every token), from scratch or from a base model",
                                    packing: .packed)
    static let sft = TrainKind(name: "sft", summary: "supervised fine-tuning on chat/instruction shards: one record per row, loss on the response tokens only",
                               packing: .documents)

    func check(_ params: Params) -> [ParamIssue] { TrainParams.check(params) + TuningParams.check(params) }
    func run(_ context: StageContext) throws -> StageResult { try TrainStage.run(context, packing: packing) }
}
