import Foundation

/// Reads a text file line by line in fixed-size blocks: a 1 GB file needs a 1 MB buffer, not
/// 1 GB. Strips a UTF-8 byte-order mark at the start and the `\r` of CRLF line ends; numbers
/// lines from 1.
public struct LineReader: Sequence {
    public let path: String
    public init(path: String) { self.path = path }

    public struct Line {
        public let number: Int
        public let bytes: ArraySlice<UInt8>
        public var text: String? { String(validating: bytes, as: UTF8.self) }
    }

    public func makeIterator() -> Iterator { Iterator(path: path) }

    public final class Iterator: IteratorProtocol {
        private let handle: FileHandle?
        private var buffer: [UInt8] = []
        private var start = 0
        private var eof = false
        private var number = 0
        public let openError: Error?

        init(path: String) {
            do { handle = try FileHandle(forReadingFrom: URL(fileURLWithPath: path)); openError = nil }
            catch { handle = nil; openError = error; eof = true }
        }

        deinit { try? handle?.close() }

        public func next() -> Line? {
            while true {
                if let nl = buffer[start...].firstIndex(of: 0x0A) {
                    return emit(end: nl, next: nl + 1)
                }
                if eof {
                    guard start < buffer.count else { return nil }
                    return emit(end: buffer.count, next: buffer.count)
                }
                buffer.removeSubrange(0..<start)
                start = 0
                let chunk = (try? handle?.read(upToCount: 1 << 20)) ?? nil
                if let chunk, !chunk.isEmpty { buffer.append(contentsOf: chunk) } else { eof = true }
            }
        }

        private func emit(end: Int, next: Int) -> Line {
            var s = start, e = end
            if number == 0, e - s >= 3, buffer[s] == 0xEF, buffer[s + 1] == 0xBB, buffer[s + 2] == 0xBF { s += 3 }
            if e > s, buffer[e - 1] == 0x0D { e -= 1 }
            number += 1
            let line = Line(number: number, bytes: buffer[s..<e])
            start = next
            return line
        }
    }
}
