import Foundation
import HoneBase
import HoneData
import HonePipeline

/// Params every record-reading kind shares.
enum RecordParams {
    static let format = ParamSpec("format", .string(choices: ["auto"] + RecordFormat.allCases.map(\.rawValue)),
                                  default: .string("auto"), help: "record format; auto detects it from the first record")

    static func maxRejectFraction(_ defaultValue: Double) -> ParamSpec {
        ParamSpec("max_reject_fraction", .number(min: 0, max: 1), default: .double(defaultValue),
                  help: "fail when more than this fraction of the records read are malformed")
    }

    static func format(_ params: Params) -> RecordFormat? {
        params.string("format").flatMap(RecordFormat.init(rawValue:))
    }

    /// Fails the stage when malformed records pass the allowed fraction.
    static func checkRejects(malformed: Int, read: Int, params: Params) throws {
        let limit = params.double("max_reject_fraction") ?? 0
        guard read > 0, Double(malformed) / Double(read) > limit else { return }
        throw StageFailure("\(malformed) of \(read) records are malformed (more than max_reject_fraction \(limit)); see the rejects output")
    }
}

struct StageFailure: Error, CustomStringConvertible {
    let description: String
    init(_ description: String) { self.description = description }
}

extension RecordParams {
    /// Every record of `dir` in `format` (the first `most` when it is above 0); a malformed one is
    /// an error naming its file and line (these inputs come from earlier stages or the user's
    /// own file, not raw data to clean).
    static func records(_ dir: URL, format: RecordFormat, input: String, most: Int? = nil) throws -> [Record] {
        var out: [Record] = []
        try RecordReader(root: dir, format: format).forEach { item in
            switch item {
            case let .success(r): out.append(r)
            case let .failure(reject):
                throw StageFailure("input '\(input)': \(reject.source): \(reject.reason) (expected \(format.rawValue) records: \(format.requiredFields.joined(separator: ", ")))")
            }
        }
        guard !out.isEmpty else { throw StageFailure("input '\(input)' holds no \(format.rawValue) records") }
        if let most, most > 0 { return Array(out.prefix(most)) }
        return out
    }
}
