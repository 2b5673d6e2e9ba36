import CBLAS

/// Facts about the BLAS library that change numeric output bytes.
public enum BLASInfo {
    /// OpenBLAS's kernel family (e.g. "Zen", "Haswell"): numeric stages' fingerprints include it,
    /// because a different kernel family gives different floating-point bits for the same sgemm.
    public static var coreName: String {
        guard let name = openblas_get_corename() else { return "unknown" }
        return String(cString: name)
    }
}
