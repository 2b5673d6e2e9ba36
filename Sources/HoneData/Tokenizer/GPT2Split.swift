/// GPT-2's pre-tokenisation, written out by hand instead of run through a regex engine:
///
///     's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
///
/// The alternatives are tried in that order at each position, as the regex does. Worked
/// example: "Hello  world's\n" -> ["Hello", " ", " world", "'s", "\n"] (the run of two spaces
/// leaves its last space to the word after it).
public enum GPT2Split {
    enum Class { case letter, number, space, other }

    /// ASCII classes from a table: Unicode property look-ups were 20% of tokenizer time.
    static let ascii: [Class] = (0..<128).map { slowClass(Unicode.Scalar(UInt8($0))) }

    static func cls(_ u: Unicode.Scalar) -> Class {
        u.value < 128 ? ascii[Int(u.value)] : slowClass(u)
    }

    static func slowClass(_ u: Unicode.Scalar) -> Class {
        let p = u.properties
        if p.isWhitespace { return .space }
        switch p.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: return .letter
        case .decimalNumber, .letterNumber, .otherNumber: return .number
        default: return .other
        }
    }

    /// The pieces of `text`, as ranges of its unicode scalars (offsets into `scalars`).
    public static func split(_ scalars: [Unicode.Scalar]) -> [Range<Int>] {
        let classes = scalars.map(cls)
        var out: [Range<Int>] = []
        var i = 0
        let n = scalars.count
        func run(_ from: Int, _ c: Class) -> Int {
            var j = from
            while j < n && classes[j] == c { j += 1 }
            return j
        }
        while i < n {
            // Contractions: 's 't 'm 'd 're 've 'll (case-sensitive, as GPT-2's pattern).
            if scalars[i] == "'" && i + 1 < n {
                let a = scalars[i + 1]
                if a == "s" || a == "t" || a == "m" || a == "d" { out.append(i..<(i + 2)); i += 2; continue }
                if i + 2 < n {
                    let b = scalars[i + 2]
                    if (a == "r" && b == "e") || (a == "v" && b == "e") || (a == "l" && b == "l") {
                        out.append(i..<(i + 3)); i += 3; continue
                    }
                }
            }
            // ` ?\p{L}+`, ` ?\p{N}+`, ` ?[^\s\p{L}\p{N}]+`: an optional single U+0020 first.
            let start = i
            var k = i
            if scalars[k] == " " && k + 1 < n && classes[k + 1] != .space { k += 1 }
            let c = classes[k]
            if c != .space {
                let end = c == .other ? runOther(k) : run(k, c)
                out.append(start..<end); i = end; continue
            }
            // Whitespace: `\s+(?!\S)` keeps the run's last character for the next piece when
            // something non-space follows; `\s+` takes a lone one.
            let end = run(i, .space)
            if end < n && end - i >= 2 { out.append(i..<(end - 1)); i = end - 1 } else { out.append(i..<end); i = end }
        }
        return out

        func runOther(_ from: Int) -> Int {
            var j = from
            while j < n && classes[j] == .other { j += 1 }
            return j
        }
    }

    /// The same pieces as byte ranges of UTF-8 text (no strings are made).
    public static func split(utf8 bytes: [UInt8]) -> [Range<Int>] {
        var scalars: [Unicode.Scalar] = []
        var offsets: [Int] = []
        scalars.reserveCapacity(bytes.count)
        offsets.reserveCapacity(bytes.count + 1)
        var i = 0
        while i < bytes.count {
            let b = bytes[i]
            offsets.append(i)
            if b < 0x80 { scalars.append(Unicode.Scalar(b)); i += 1; continue }
            let n = b >= 0xF0 ? 4 : b >= 0xE0 ? 3 : 2
            var v = UInt32(b) & (n == 4 ? 0x07 : n == 3 ? 0x0F : 0x1F)
            for k in 1..<n where i + k < bytes.count { v = v << 6 | (UInt32(bytes[i + k]) & 0x3F) }
            scalars.append(Unicode.Scalar(v) ?? "\u{FFFD}")
            i += n
        }
        offsets.append(bytes.count)
        return split(scalars).map { offsets[$0.lowerBound]..<offsets[$0.upperBound] }
    }
}
