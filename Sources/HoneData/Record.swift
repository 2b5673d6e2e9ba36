import HoneBase

/// The record formats Hone reads (docs/data.md).
public enum RecordFormat: String, Sendable, CaseIterable {
    /// `{"instruction", "input", "output"}` (Alpaca).
    case alpaca
    /// `{"messages": [{"role", "content"}, …]}`.
    case chat
    /// `{"prompt", "chosen", "rejected"}`.
    case preference
    /// `{"text", "label"}`, from JSONL or a CSV with a header row.
    case textLabel = "text-label"
    /// Plain text for pretraining: `{"text"}`, one record per line of a .txt file.
    case text

    /// The fields that must be present and non-empty.
    public var requiredFields: [String] {
        switch self {
        case .alpaca: return ["instruction", "output"]
        case .chat: return ["messages"]
        case .preference: return ["prompt", "chosen", "rejected"]
        case .textLabel: return ["text", "label"]
        case .text: return ["text"]
        }
    }

    /// The string fields a record's text is made of (what clean normalises, dedupes and
    /// measures, and what augment rewrites).
    public var textFields: [String] {
        switch self {
        case .alpaca: return ["instruction", "input", "output"]
        case .chat: return []
        case .preference: return ["prompt", "chosen", "rejected"]
        case .textLabel, .text: return ["text"]
        }
    }

    /// The format a JSON object's keys say it is in, or nil.
    public static func detect(_ object: [String: JSONValue]) -> RecordFormat? {
        if object["messages"] != nil { return .chat }
        if object["instruction"] != nil && object["output"] != nil { return .alpaca }
        if object["prompt"] != nil && object["chosen"] != nil && object["rejected"] != nil { return .preference }
        if object["text"] != nil && object["label"] != nil { return .textLabel }
        if object["text"] != nil { return .text }
        return nil
    }
}

/// Where a record came from, for rejects and for augmented records' pointers to their source.
public struct RecordSource: Sendable, Hashable, CustomStringConvertible {
    public let file: String
    public let line: Int
    public init(file: String, line: Int) { self.file = file; self.line = line }
    public var description: String { "\(file):\(line)" }
}

public struct Record: Sendable, Equatable {
    public var fields: [String: JSONValue]
    public let source: RecordSource

    public init(fields: [String: JSONValue], source: RecordSource) { self.fields = fields; self.source = source }

    public subscript(field: String) -> String? { fields[field]?.stringValue }

    /// The record's text fields joined, for measuring and deduplicating. Chat records use their
    /// messages' contents.
    public func text(_ format: RecordFormat) -> String {
        if format == .chat {
            return (fields["messages"]?.arrayValue ?? []).compactMap { $0["content"]?.stringValue }.joined(separator: "\n")
        }
        return format.textFields.compactMap { fields[$0]?.stringValue }.joined(separator: "\n")
    }

    /// One JSON line (canonical: sorted keys), as outputs store records.
    public var jsonLine: String { JSONValue.object(fields).canonical }
}

/// A record that could not be used, with why. Never dropped in silence: it goes to `rejects`.
public struct Reject: Error, Sendable, Equatable {
    public let source: RecordSource
    public let reason: String
    /// For duplicates: the kept record it repeats.
    public let duplicateOf: RecordSource?

    public init(source: RecordSource, reason: String, duplicateOf: RecordSource? = nil) {
        self.source = source; self.reason = reason; self.duplicateOf = duplicateOf
    }

    public var jsonLine: String {
        var o: [String: JSONValue] = ["file": .string(source.file), "line": .int(source.line), "reason": .string(reason)]
        if let d = duplicateOf { o["duplicate_of"] = .string(d.description) }
        return JSONValue.object(o).canonical
    }
}
