import Foundation
import HoneBase

/// An fp32 buffer, allocated once per shape and reused: the step loop allocates nothing.
public final class Buffer: @unchecked Sendable {
    public let count: Int
    public let pointer: UnsafeMutablePointer<Float>

    public init(_ count: Int) {
        self.count = count
        pointer = .allocate(capacity: max(1, count))
        pointer.initialize(repeating: 0, count: max(1, count))
    }

    deinit { pointer.deallocate() }

    public var buffer: UnsafeMutableBufferPointer<Float> { UnsafeMutableBufferPointer(start: pointer, count: count) }

    public func zero() { pointer.update(repeating: 0, count: count) }

    /// A new buffer with the same values.
    public func copy() -> Buffer {
        let b = Buffer(count)
        b.pointer.update(from: pointer, count: count)
        return b
    }

    public subscript(i: Int) -> Float {
        get { pointer[i] }
        set { pointer[i] = newValue }
    }

    /// N(0, std²) from a counter-based stream: the same key gives the same weights anywhere.
    public func fillNormal(std: Float, rng: inout CounterRNG) {
        var i = 0
        while i < count {
            let u1 = max(rng.nextDouble(), 1e-300), u2 = rng.nextDouble()
            let r = (-2 * log(u1)).squareRoot()
            pointer[i] = Float(r * cos(2 * .pi * u2)) * std
            if i + 1 < count { pointer[i + 1] = Float(r * sin(2 * .pi * u2)) * std }
            i += 2
        }
    }
}
