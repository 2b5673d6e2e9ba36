import Foundation
import HoneBase
import HoneTensor

/// The linear layer's forward + backward on ../shared/bench/par_sgemm.c's shape (M 2048, K 512,
/// N 1536: config B's B·T rows), at 1 and 2 threads, and whether both give the same bits.
func matmulBench() {
    let M = 2048, K = 512, N = 1536
    var rng = CounterRNG(key: 1)
    let inp = Buffer(M * K), w = Buffer(N * K), dout = Buffer(M * N)
    inp.fillNormal(std: 0.5, rng: &rng); w.fillNormal(std: 0.02, rng: &rng); dout.fillNormal(std: 0.01, rng: &rng)
    let out = Buffer(M * N), dinp = Buffer(M * K), dw = Buffer(N * K)
    var results: [Int: [UInt32]] = [:]
    var rate: [Int: Double] = [:]
    for threads in [1, 2] {
        var times: [Double] = []
        for rep in 0..<6 {
            dinp.zero(); dw.zero()
            let t = Date()
            Matmul.forward(out: out.pointer, inp: inp.pointer, weight: w.pointer, bias: nil, M: M, K: K, N: N, threads: threads)
            Matmul.backward(dinp: dinp.pointer, dweight: dw.pointer, dbias: nil, dout: dout.pointer, inp: inp.pointer,
                            weight: w.pointer, M: M, K: K, N: N, threads: threads)
            if rep > 0 { times.append(Date().timeIntervalSince(t)) }  // the first warms up
        }
        let seconds = times.sorted()[times.count / 2]
        rate[threads] = 3 * 2 * Double(M) * Double(N) * Double(K) / seconds / 1e9
        results[threads] = (Array(out.buffer) + Array(dinp.buffer) + Array(dw.buffer)).map(\.bitPattern)
    }
    let line: JSONValue = .object([
        "bench": .string("matmul_fwd_bwd"), "M": .int(M), "K": .int(K), "N": .int(N),
        "gflops_1t": .double(((rate[1] ?? 0) * 10).rounded() / 10), "gflops_2t": .double(((rate[2] ?? 0) * 10).rounded() / 10),
        "speedup_2t": .double((((rate[2] ?? 0) / (rate[1] ?? 1)) * 100).rounded() / 100),
        "bit_identical_1t_2t": .bool(results[1] == results[2]), "blas_core": .string(BLASInfo.coreName),
    ])
    print(line.canonical)
}
