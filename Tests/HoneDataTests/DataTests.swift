import Foundation
import HoneBase
import HoneData
import Testing

func tempFile(_ name: String, _ bytes: [UInt8]) throws -> URL {
    let dir = FileManager.default.temporaryDirectory.appendingPathComponent("hone-data-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    let url = dir.appendingPathComponent(name)
    try Data(bytes).write(to: url)
    return url
}

func readAll(_ url: URL, format: RecordFormat? = nil) throws -> (records: [Record], rejects: [Reject]) {
    let reader = RecordReader(root: url, format: format)
    var records: [Record] = [], rejects: [Reject] = []
    try reader.forEach { switch $0 { case let .success(r): records.append(r); case let .failure(r): rejects.append(r) } }
    return (records, rejects)
}

@Suite struct RecordReaderTests {
    @Test func dirtyJSONLIsReadWithEveryBadLineNamed() throws {
        var bytes: [UInt8] = [0xEF, 0xBB, 0xBF]  // a BOM
        bytes += Array("""
        {"instruction": "a", "input": "", "output": "1"}\r
        {"instruction": "b", "output": 2}
        {broken
        {"instruction": "c"}

        [1, 2]
        {"instruction": "d", "output": "4"}
        """.utf8)
        bytes += [0x0A, 0x7B, 0xFF, 0x7D, 0x0A]  // invalid UTF-8 on line 8
        let (records, rejects) = try readAll(try tempFile("raw.jsonl", bytes))
        #expect(records.map { $0["instruction"] } == ["a", "d"])
        #expect(records.first?["output"] == "1")  // CRLF and BOM gone
        #expect(rejects.map(\.source.line) == [2, 3, 4, 6, 8])
        #expect(rejects.map(\.reason) == ["'output' must be a string", rejects[1].reason,
                                          "missing field 'output' (alpaca records need instruction, output)",
                                          "not a JSON object", "not valid UTF-8"])
        #expect(rejects[1].reason.hasPrefix("invalid JSON"))
    }

    @Test func csvWithQuotesCommasAndLineBreaks() throws {
        let (records, rejects) = try readAll(try tempFile("d.csv", Array("text,label\n\"a, \"\"quoted\"\"\nline\",pos\nplain,neg\nbad,row,extra\n".utf8)))
        #expect(records.map { $0["text"] } == ["a, \"quoted\"\nline", "plain"])
        #expect(records.map { $0["label"] } == ["pos", "neg"])
        #expect(rejects.map(\.source.line) == [5])
    }
}

@Suite struct CleanerTests {
    func clean(_ lines: [String], _ configure: (inout Cleaner.Options) -> Void = { _ in }) throws -> ([Record], [Reject], Cleaner.Stats) {
        let url = try tempFile("raw.jsonl", Array((lines.joined(separator: "\n") + "\n").utf8))
        var options = Cleaner.Options()
        configure(&options)
        var cleaner = Cleaner(options: options)
        let reader = RecordReader(root: url, format: nil)
        var kept: [Record] = [], rejected: [Reject] = []
        try reader.forEach { item in
            switch cleaner.take(item, format: reader.format ?? .text) {
            case let .success(r): kept.append(r)
            case let .failure(r): rejected.append(r)
            }
        }
        return (kept, rejected, cleaner.stats)
    }

    @Test func normalisesAndDropsExactDuplicatesNamingTheOriginal() throws {
        let (kept, rejected, stats) = try clean([
            #"{"instruction": "What is  2+2?", "output": "4"}"#,
            #"{"instruction": "what is 2 + 2", "output": "4 "}"#,
            #"{"instruction": "Cafe\u0301\u0007", "output": "ok"}"#,
            #"{"instruction": "x", "output": ""}"#,
        ])
        #expect(kept.map { $0["instruction"] } == ["What is 2+2?", "Café"])
        #expect(rejected.map(\.reason) == ["exact duplicate", "empty 'output'"])
        #expect(rejected[0].duplicateOf == RecordSource(file: "raw.jsonl", line: 1))
        #expect(stats.kept == 2 && stats.removed == 2)
    }

    @Test func nearDuplicatesAboveTheThresholdGoAndOthersStay() throws {
        let base = (1...40).map { "word\($0)" }.joined(separator: " ")
        let near = base.replacingOccurrences(of: "word40", with: "changed")  // Jaccard of 5-grams 35/37
        let far = (1...40).map { "other\($0)" }.joined(separator: " ")
        let (kept, rejected, _) = try clean([base, near, far].map { #"{"text": "\#($0)"}"# })
        #expect(kept.count == 2)
        #expect(rejected.count == 1 && rejected[0].reason.hasPrefix("near duplicate"))
        let (keptAll, _, _) = try clean([base, near, far].map { #"{"text": "\#($0)"}"# }) { $0.nearDuplicateThreshold = nil }
        #expect(keptAll.count == 3)
    }

    @Test func lengthBoundsNameTheLimit() throws {
        let (_, rejected, _) = try clean([#"{"text": "one two"}"#, #"{"text": "one two three four"}"#]) { $0.minWords = 3; $0.maxWords = 3 }
        #expect(rejected.map { $0.reason.prefix(9) } == ["too short", "too long:"])
    }
}

@Suite struct SplitterTests {

    @Test(arguments: [1, 2, 7, 100, 1001])
    func splitIsDisjointCoversEveryRecordAndIsTheSameForTheSameSeed(_ n: Int) {
        let k = (0..<n).map { Splitter.Key(group: "r\($0)", stratum: "l\($0 % 3)") }
        let a = Splitter.assign(k, ratios: [0.7, 0.15, 0.15], rngKey: 11)
        #expect(a.count == n)
        #expect(a.allSatisfy { (0...2).contains($0) })
        #expect(a == Splitter.assign(k, ratios: [0.7, 0.15, 0.15], rngKey: 11))
        if n >= 100 {
            #expect(a != Splitter.assign(k, ratios: [0.7, 0.15, 0.15], rngKey: 12))
            let train = a.filter { $0 == 0 }.count
            #expect(abs(Double(train) / Double(n) - 0.7) < 0.02)
        }
    }

    @Test func groupsStayInOneSplit() {
        let k = (0..<300).map { Splitter.Key(group: "prompt\($0 / 3)", stratum: "") }
        let a = Splitter.assign(k, ratios: [0.7, 0.15, 0.15], rngKey: 5)
        for g in 0..<100 { #expect(Set(a[(g * 3)..<(g * 3 + 3)]).count == 1) }
    }

    @Test func stratifyingKeepsTheLabelMix() {
        let k = (0..<1000).map { Splitter.Key(group: "r\($0)", stratum: $0 % 10 == 0 ? "rare" : "common") }
        let a = Splitter.assign(k, ratios: [0.7, 0.15, 0.15], rngKey: 1)
        for split in 0...2 {
            let rare = zip(k, a).filter { $0.1 == split && $0.0.stratum == "rare" }.count
            let all = a.filter { $0 == split }.count
            #expect(abs(Double(rare) / Double(all) - 0.1) < 0.01)
        }
    }
}

@Suite struct NormalizeTests {
    @Test func dedupeKeyFoldsSpacingAroundSymbolsButKeepsThem() {
        #expect(Normalize.dedupeKey("What is 2+2?") == "what is 2 + 2")
        #expect(Normalize.dedupeKey("what  is 2 + 2") == "what is 2 + 2")
        #expect(Normalize.dedupeKey("5 + 0") != Normalize.dedupeKey("5 - 0"))
        #expect(Normalize.dedupeKey("Hello, world!") == Normalize.dedupeKey("hello world"))
    }

    @Test func textIsNFCWithoutControlsAndFoldedSpaces() {
        #expect(Normalize.text("  Cafe\u{301}\u{7}  au\t lait \r\n\n\n\nx ") == "Café au lait\n\nx")
    }
}

@Suite struct AugmenterTests {
    let synonyms = ["quick": ["fast", "rapid"], "dog": ["hound"]]

    @Test func sameSeedSameOutputAndDifferentSeedsDiffer() {
        let text = "the quick brown fox jumps over the lazy dog again and again"
        let a = Augmenter(rates: Augmenter.Rates(), synonyms: synonyms, key: 1)
        let b = Augmenter(rates: Augmenter.Rates(), synonyms: synonyms, key: 2)
        #expect(a.augment(text, index: 3, copy: 1) == a.augment(text, index: 3, copy: 1))
        let outputs = Set((0..<20).map { a.augment(text, index: $0, copy: 1).text })
        #expect(outputs.count > 10)
        #expect((0..<20).contains { a.augment(text, index: $0, copy: 1).text != b.augment(text, index: $0, copy: 1).text })
    }

    @Test func synonymReplacementOnlyUsesTheList() {
        var rates = Augmenter.Rates()
        rates.insert = 0; rates.swap = 0; rates.delete = 0; rates.synonym = 1
        let a = Augmenter(rates: rates, synonyms: synonyms, key: 9)
        let (out, ops) = a.augment("a quick dog", index: 0, copy: 1)
        #expect(ops == ["synonym"])
        let words = out.split(separator: " ")
        #expect(words.count == 3 && words[0] == "a")
        #expect(["fast", "rapid"].contains(String(words[1])) && words[2] == "hound")
    }

    @Test func synonymFileErrorsNameTheLine() throws {
        #expect(throws: Augmenter.SynonymError.self) { try Augmenter.parseSynonyms("quick: fast\nno colon here\n") }
        #expect(try Augmenter.parseSynonyms("# c\nQuick: fast, rapid\n") == ["quick": ["fast", "rapid"]])
    }
}

@Suite struct CSVEdgeTests {
    /// A stray quote inside a cell spoils its own row only, not the rest of the file.
    @Test func strayQuoteRejectsOneRow() throws {
        let (records, rejects) = try readAll(try tempFile("d.csv", Array("text,label\n5\" screen is great,pos\nfine,neg\n\"multi\nline\",pos\n".utf8)))
        #expect(records.map { $0["text"] } == ["fine", "multi\nline"])
        #expect(rejects.map(\.source.line) == [2])
    }
}

@Suite struct JSONEdgeTests {
    @Test func loneSurrogatesDoNotCrash() throws {
        let (records, _) = try readAll(try tempFile("s.jsonl", Array(#"{"text": "\ud83d\u0041 and \ud83d\ude00"}"#.utf8) + [0x0A]))
        #expect(records.first?["text"] == "\u{FFFD}A and 😀")
    }
}

@Suite struct SplitterStrataTests {
    /// Many labels with one or two records each: val and test still get their share.
    @Test func fineGrainedLabelsStillFillEverySplit() {
        let k = (0..<200).map { Splitter.Key(group: "r\($0)", stratum: "label\($0 / 2)") }
        let a = Splitter.assign(k, ratios: [0.7, 0.15, 0.15], rngKey: 4)
        let counts = (0...2).map { s in a.filter { $0 == s }.count }
        #expect(counts == [140, 30, 30], "\(counts)")
    }
}
