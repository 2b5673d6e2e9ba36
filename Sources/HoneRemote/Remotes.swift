import Foundation
import HoneBase
import HoneStore

/// The remotes `hone remote add` names, in `.hone/remotes.json`: name -> url, endpoint, region,
/// and which is the default. Never credentials: those stay in the environment or ~/.aws.
public struct Remotes: Sendable {
    public struct Entry: Sendable, Equatable {
        public let url: String
        public let endpoint: String?
        public let region: String?
        public init(url: String, endpoint: String?, region: String?) { self.url = url; self.endpoint = endpoint; self.region = region }
        public func spec() throws -> RemoteSpec { try RemoteSpec(url: url, endpoint: endpoint, region: region) }
    }

    public var entries: [String: Entry] = [:]
    public var defaultName: String?
    let path: String

    public init(dotHone: URL) {
        path = dotHone.appendingPathComponent("remotes.json").path
        guard let data = FileManager.default.contents(atPath: path), let json = try? JSONValue.parse(data) else { return }
        for (name, v) in json["remotes"]?.objectValue ?? [:] {
            guard let url = v["url"]?.stringValue else { continue }
            entries[name] = Entry(url: url, endpoint: v["endpoint"]?.stringValue, region: v["region"]?.stringValue)
        }
        defaultName = json["default"]?.stringValue
    }

    public func save() throws {
        var remotes: [String: JSONValue] = [:]
        for (name, e) in entries {
            var o: [String: JSONValue] = ["url": .string(e.url)]
            if let endpoint = e.endpoint { o["endpoint"] = .string(endpoint) }
            if let region = e.region { o["region"] = .string(region) }
            remotes[name] = .object(o)
        }
        var top: [String: JSONValue] = ["remotes": .object(remotes)]
        if let defaultName { top["default"] = .string(defaultName) }
        try writeAtomically(Array((JSONValue.object(top).pretty + "\n").utf8), to: path)
    }

    /// The one to use: the named one, else the default, else the only one.
    public func chosen(_ name: String?) -> (name: String, entry: Entry)? {
        if let name { return entries[name].map { (name, $0) } }
        if let d = defaultName, let e = entries[d] { return (d, e) }
        return entries.count == 1 ? entries.first.map { ($0.key, $0.value) } : nil
    }
}
