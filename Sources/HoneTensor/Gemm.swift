import CBLAS

/// Row-major `cblas_sgemm`, C[M, N] = alpha · op(A) · op(B) + beta · C, where beta 0 zeroes C
/// with memset and calls OpenBLAS with beta 1. OpenBLAS does beta 0 as its own zeroing pass
/// (sgemm_beta, a scalar loop: 3.4% of a training step in perf) followed by the same
/// C += alpha · AB, so the bits are the same; memset then beta 1 made single products 1–13%
/// faster (512×256×256 8%, attention's 128×128×64 13%, 512×4096×256 1%).
/// beta must be 0 or 1, the only values the model uses.
@inline(__always)
public func gemm(_ transA: Bool, _ transB: Bool, _ M: Int, _ N: Int, _ K: Int, _ alpha: Float,
                 _ A: UnsafePointer<Float>, _ lda: Int, _ B: UnsafePointer<Float>, _ ldb: Int,
                 _ beta: Float, _ C: UnsafeMutablePointer<Float>, _ ldc: Int) {
    precondition(beta == 0 || beta == 1, "gemm: beta must be 0 or 1")
    if beta == 0 {
        if ldc == N {
            C.update(repeating: 0, count: M * N)
        } else {
            for i in 0..<M { (C + i * ldc).update(repeating: 0, count: N) }
        }
    }
    cblas_sgemm(CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
                Int32(M), Int32(N), Int32(K), alpha, A, Int32(lda), B, Int32(ldb), 1, C, Int32(ldc))
}
