import HonePipeline

/// Every stage kind this build of hone knows, besides the runner's own `shell`.
/// A new kind is one file in this target plus one line here.
public enum BuiltinKinds {
    public static let all: [any StageKind] = [CleanKind(), SplitKind(), AugmentKind(), TokenizeKind(), TrainKind.pretrain, TrainKind.sft,
                                                PreferencesKind(), RewardKind(), PPOKind(), EvaluateKind()]
}
