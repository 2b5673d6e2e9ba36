import Foundation
import HoneBase
import HoneStore
import Testing

@Suite struct JSONValueTests {
    @Test func canonicalSortsKeysAndHasNoSpaces() {
        let v: JSONValue = .object(["b": .int(1), "a": .array([.bool(true), .null, .double(0.5)]), "c": .string("x\"\n")])
        #expect(v.canonical == #"{"a":[true,null,0.5],"b":1,"c":"x\"\n"}"#)
    }

    @Test func parseRoundTripsWhatCanonicalWrites() throws {
        let v: JSONValue = .object(["k": .array([.int(-3), .double(1e-7), .string("é\u{1}")]), "e": .object([:])])
        #expect(try JSONValue.parse(v.canonical) == v)
        #expect(try JSONValue.parse(v.pretty) == v)
    }

    @Test func integralDoublesKeepTheirType() throws {
        #expect(JSONValue.double(2).canonical == "2.0")
        #expect(try JSONValue.parse("2.0") == .double(2))
        #expect(try JSONValue.parse("2") == .int(2))
    }

    @Test func malformedJSONIsAnErrorWithOffset() {
        #expect(throws: JSONParseError.self) { try JSONValue.parse("{\"a\": [1, 2}") }
        #expect(throws: JSONParseError.self) { try JSONValue.parse("{} x") }
    }

    @Test func sha256OfKnownString() {
        #expect(Digest.of("abc").hex == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
        #expect(Digest(hex: Digest.of("abc").hex) == Digest.of("abc"))
        #expect(Digest(hex: "xyz") == nil)
    }
}
