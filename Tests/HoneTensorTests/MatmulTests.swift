import HoneBase
import HoneTensor
import Testing

/// Naive double-precision reference: the algorithmic definition the fast path is checked against.
func referenceForward(_ inp: Buffer, _ w: Buffer, _ b: Buffer?, M: Int, K: Int, N: Int) -> [Double] {
    var out = [Double](repeating: 0, count: M * N)
    for i in 0..<M {
        for j in 0..<N {
            var s = Double(b?[j] ?? 0)
            for k in 0..<K { s += Double(inp[i * K + k]) * Double(w[j * K + k]) }
            out[i * N + j] = s
        }
    }
    return out
}

func random(_ n: Int, key: UInt64, std: Float = 0.5) -> Buffer {
    var rng = CounterRNG(key: key)
    let b = Buffer(n)
    b.fillNormal(std: std, rng: &rng)
    return b
}

/// Central differences against an analytic gradient at `samples` positions drawn from `rng`:
/// |numeric − analytic| / max(floor, |numeric|) must stay under `tolerance`.
func expectGradient(_ name: String, _ param: Buffer, _ grad: Buffer, samples: Int, h: Float = 1e-2, tolerance: Double,
                    floor: Double, rng: inout CounterRNG, loss: () -> Double) {
    for _ in 0..<samples {
        let i = rng.below(param.count)
        let saved = param[i]
        param[i] = saved + h; let up = loss()
        param[i] = saved - h; let down = loss()
        param[i] = saved
        let numeric = (up - down) / (2 * Double(h))
        let rel = abs(numeric - Double(grad[i])) / max(floor, abs(numeric))
        #expect(rel < tolerance, "\(name)[\(i)]: analytic \(grad[i]), numeric \(numeric)")
    }
}

/// Shapes whose rows and features are not multiples of the task sizes, so the last slices are
/// short: 128-row tasks (300 rows), and from 2048 rows 512-row tasks (2100 rows; 600 features,
/// so the weight gradient has a short slice too).
let matmulShapes = [(M: 300, K: 70, N: 150), (M: 2100, K: 24, N: 600)]

@Suite struct MatmulTests {
    @Test(arguments: matmulShapes) func forwardMatchesTheDoubleReference(M: Int, K: Int, N: Int) {
        let inp = random(M * K, key: 1), w = random(N * K, key: 2), b = random(N, key: 3)
        let out = Buffer(M * N)
        Matmul.forward(out: out.pointer, inp: inp.pointer, weight: w.pointer, bias: b.pointer, M: M, K: K, N: N, threads: 2)
        let ref = referenceForward(inp, w, b, M: M, K: K, N: N)
        let worst = (0..<(M * N)).map { abs(Double(out[$0]) - ref[$0]) / max(1, abs(ref[$0])) }.max() ?? 0
        #expect(worst < 1e-5, "worst relative error \(worst)")
    }

    /// Central differences on the double reference: a transposed or misplaced gradient fails.
    @Test(arguments: matmulShapes) func backwardMatchesFiniteDifferences(M: Int, K: Int, N: Int) {
        let inp = random(M * K, key: 4), w = random(N * K, key: 5), b = random(N, key: 6)
        let r = random(M * N, key: 7)  // loss = Σ out ⊙ r, so dout = r
        let dinp = Buffer(M * K), dw = Buffer(N * K), db = Buffer(N)
        Matmul.backward(dinp: dinp.pointer, dweight: dw.pointer, dbias: db.pointer, dout: r.pointer,
                        inp: inp.pointer, weight: w.pointer, M: M, K: K, N: N, threads: 2)
        func loss() -> Double {
            zip(referenceForward(inp, w, b, M: M, K: K, N: N), (0..<(M * N)).map { Double(r[$0]) }).reduce(0) { $0 + $1.0 * $1.1 }
        }
        var rng = CounterRNG(key: 8)
        for (buffer, grad, name) in [(w, dw, "dweight"), (inp, dinp, "dinp"), (b, db, "dbias")] {
            expectGradient(name, buffer, grad, samples: 6, tolerance: 1e-3, floor: 1e-3, rng: &rng, loss: loss)
        }
    }

    /// The same bits on 1 thread as on 2: tasks are fixed, threads only pick them up.
    @Test(arguments: matmulShapes) func oneAndTwoThreadsGiveTheSameBits(M: Int, K: Int, N: Int) {
        let inp = random(M * K, key: 9), w = random(N * K, key: 10), dout = random(M * N, key: 11)
        func run(_ threads: Int) -> [Float] {
            let out = Buffer(M * N), dinp = Buffer(M * K), dw = Buffer(N * K), db = Buffer(N)
            Matmul.forward(out: out.pointer, inp: inp.pointer, weight: w.pointer, bias: nil, M: M, K: K, N: N, threads: threads)
            Matmul.backward(dinp: dinp.pointer, dweight: dw.pointer, dbias: db.pointer, dout: dout.pointer,
                            inp: inp.pointer, weight: w.pointer, M: M, K: K, N: N, threads: threads)
            return Array(out.buffer) + Array(dinp.buffer) + Array(dw.buffer) + Array(db.buffer)
        }
        let one = run(1), two = run(2)
        #expect(one.map(\.bitPattern) == two.map(\.bitPattern))
    }
}
