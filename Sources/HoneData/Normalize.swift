import Foundation

/// Text normalisation shared by clean and dedupe.
public enum Normalize {
    /// NFC; control characters removed (C0 but tab and newline, DEL, C1, the BOM); runs of
    /// spaces and tabs folded to one space; spaces trimmed at line ends and blank-line runs
    /// folded to one blank line; the whole trimmed.
    public static func text(_ s: String) -> String {
        let nfc = s.precomposedStringWithCanonicalMapping
        var out = String.UnicodeScalarView()
        var pendingSpace = false, newlines = 0
        for u in nfc.unicodeScalars {
            let v = u.value
            if v == 0x0A {
                pendingSpace = false
                newlines += 1
                continue
            }
            if v == 0x20 || v == 0x09 || v == 0x0D { pendingSpace = true; continue }
            if v < 0x20 || v == 0x7F || (0x80...0x9F).contains(v) || v == 0xFEFF { continue }
            if newlines > 0 {
                if !out.isEmpty { out.append(contentsOf: newlines > 1 ? "\n\n".unicodeScalars : "\n".unicodeScalars) }
                newlines = 0
            } else if pendingSpace && !out.isEmpty {
                out.append(" ")
            }
            pendingSpace = false
            out.append(u)
        }
        return String(out)
    }

    /// The key exact duplicates are found by: lower case, punctuation read as a word break,
    /// symbols (+ - = $ …) kept as words of their own, whitespace folded. "What is 2+2?" and
    /// "what is 2 + 2" both become "what is 2 + 2"; "5 + 0" and "5 - 0" stay apart.
    public static func dedupeKey(_ s: String) -> String {
        var out = String.UnicodeScalarView()
        var space = false
        func word(_ u: Unicode.Scalar) {
            if space && !out.isEmpty { out.append(" ") }
            space = false
            out.append(u)
        }
        for u in s.lowercased().unicodeScalars {
            if u.properties.isWhitespace { space = true; continue }
            switch u.properties.generalCategory {
            case .connectorPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
                 .finalPunctuation, .otherPunctuation:
                space = true
            case .mathSymbol, .currencySymbol, .modifierSymbol, .otherSymbol, .dashPunctuation:
                space = true
                word(u)
                space = true
            default:
                word(u)
            }
        }
        return String(out)
    }

    /// 64-bit FNV-1a: stable across runs and platforms (Swift's Hasher is seeded per process).
    public static func fnv1a(_ s: Substring.UTF8View, seed: UInt64 = 0xcbf2_9ce4_8422_2325) -> UInt64 {
        var h = seed
        for b in s { h = (h ^ UInt64(b)) &* 0x0000_0100_0000_01B3 }
        return h
    }
}
