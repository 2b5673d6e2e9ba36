import CBLAS
import HoneTensor
import Testing

@Suite struct GemmTests {
    /// gemm's beta 0 (memset, then OpenBLAS with beta 1) gives OpenBLAS's own beta-0 bits, over
    /// a C full of NaNs: a contiguous C, and a strided one (a head view of attention) whose
    /// gaps must stay untouched. The shapes are Matmul's and attention's, transposed both ways.
    @Test(arguments: [(false, true, 70, 150, 33, 150), (false, false, 64, 16, 128, 48), (true, false, 40, 16, 90, 16)])
    func betaZeroGivesOpenBLASsBits(transA: Bool, transB: Bool, M: Int, N: Int, K: Int, ldc: Int) {
        let A = random(M * K, key: 20, std: 1), B = random(K * N, key: 21, std: 1)
        let lda = transA ? M : K, ldb = transB ? K : N
        func run(_ body: (UnsafeMutablePointer<Float>) -> Void) -> [UInt32] {
            let C = Buffer(M * ldc)
            C.pointer.update(repeating: .nan, count: M * ldc)
            body(C.pointer)
            return Array(C.buffer).map(\.bitPattern)
        }
        let ours = run { gemm(transA, transB, M, N, K, 0.5, A.pointer, lda, B.pointer, ldb, 0, $0, ldc) }
        let theirs = run {
            cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans, Int32(M), Int32(N), Int32(K),
                        0.5, A.pointer, Int32(lda), B.pointer, Int32(ldb), 0, $0, Int32(ldc))
        }
        #expect(ours == theirs)
    }
}
