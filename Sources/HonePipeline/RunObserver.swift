import Foundation

/// What a run reports as it goes. The command line turns these into progress lines, plain lines
/// in CI, or JSON for machines.
public protocol RunObserver: AnyObject, Sendable {
    func stageStarted(_ stage: String, action: StageAction, reasons: [String])
    func stageProgress(_ stage: String, done: Int, total: Int?, unit: String, message: String?)
    func stageFinished(_ stage: String, outcome: StageOutcome, seconds: Double)
    func note(_ text: String)
}

public enum StageAction: String, Sendable {
    case run, restore
}

public enum StageOutcome: Sendable {
    case upToDate
    case restored
    case ran
    /// Input objects were corrupt: quarantined, the producers re-run, and this stage retried.
    case retry(String)
    case failed(String)
    /// Not run because an upstream stage failed.
    case skipped(String)

    public var succeeded: Bool {
        switch self { case .upToDate, .restored, .ran: return true; default: return false }
    }
}
