// RMSNorm's sums over a row, eight rows side by side. Each row's sum is one chain of additions
// in column order, so it waits on its previous addition: perf showed RMSNorm's forward spending
// four fifths of its time, and its backward three fifths, in that chain, one row after another.
// Here eight rows' chains run together, each row still summed alone and in column order (no
// fused multiply-add), so every sum has the bits the one-row loop gave. The AVX2 path takes
// eight columns of the eight rows at a time, computes their terms along the rows, transposes
// the 8×8 block so that lane k holds row k, and adds its eight columns in order; the portable
// path, which also takes a last group of fewer rows, is the same sums written plainly.
#include "CFastMath.h"
#include "simd.h"

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define HONE_X86 1
#define SIMD __attribute__((target("avx2")))

/// r[q] holds lane k = r[k][q] on return: column q of the block, one row a lane.
SIMD static inline void transpose8(__m256 r[8]) {
    __m256 t0 = _mm256_unpacklo_ps(r[0], r[1]), t1 = _mm256_unpackhi_ps(r[0], r[1]);
    __m256 t2 = _mm256_unpacklo_ps(r[2], r[3]), t3 = _mm256_unpackhi_ps(r[2], r[3]);
    __m256 t4 = _mm256_unpacklo_ps(r[4], r[5]), t5 = _mm256_unpackhi_ps(r[4], r[5]);
    __m256 t6 = _mm256_unpacklo_ps(r[6], r[7]), t7 = _mm256_unpackhi_ps(r[6], r[7]);
    __m256 u0 = _mm256_shuffle_ps(t0, t2, 0x44), u1 = _mm256_shuffle_ps(t0, t2, 0xEE);
    __m256 u2 = _mm256_shuffle_ps(t1, t3, 0x44), u3 = _mm256_shuffle_ps(t1, t3, 0xEE);
    __m256 u4 = _mm256_shuffle_ps(t4, t6, 0x44), u5 = _mm256_shuffle_ps(t4, t6, 0xEE);
    __m256 u6 = _mm256_shuffle_ps(t5, t7, 0x44), u7 = _mm256_shuffle_ps(t5, t7, 0xEE);
    r[0] = _mm256_permute2f128_ps(u0, u4, 0x20); r[1] = _mm256_permute2f128_ps(u1, u5, 0x20);
    r[2] = _mm256_permute2f128_ps(u2, u6, 0x20); r[3] = _mm256_permute2f128_ps(u3, u7, 0x20);
    r[4] = _mm256_permute2f128_ps(u0, u4, 0x31); r[5] = _mm256_permute2f128_ps(u1, u5, 0x31);
    r[6] = _mm256_permute2f128_ps(u2, u6, 0x31); r[7] = _mm256_permute2f128_ps(u3, u7, 0x31);
}

/// Adds the block's eight columns onto the row sums in s, column 0 first.
SIMD static inline __m256 add_columns(__m256 s, __m256 r[8]) {
    transpose8(r);
    for (int q = 0; q < 8; q++) s = _mm256_add_ps(s, r[q]);
    return s;
}

/// The whole blocks of eight columns; returns the first column left.
SIMD static size_t square_sums8_avx2(const float *x, size_t c, float *s) {
    __m256 acc = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 8 <= c; j += 8) {
        __m256 r[8];
        for (size_t k = 0; k < 8; k++) { __m256 v = _mm256_loadu_ps(x + k * c + j); r[k] = _mm256_mul_ps(v, v); }
        acc = add_columns(acc, r);
    }
    _mm256_storeu_ps(s, acc);
    return j;
}

SIMD static size_t scaled_dots8_avx2(const float *dy, const float *x, const float *w, const float *r, size_t c, float *s) {
    __m256 acc = _mm256_setzero_ps();
    size_t j = 0;
    for (; j + 8 <= c; j += 8) {
        __m256 t[8], wj = _mm256_loadu_ps(w + j);
        for (size_t k = 0; k < 8; k++) {
            __m256 p = _mm256_mul_ps(_mm256_mul_ps(_mm256_loadu_ps(dy + k * c + j), wj), _mm256_loadu_ps(x + k * c + j));
            t[k] = _mm256_mul_ps(p, _mm256_set1_ps(r[k]));
        }
        acc = add_columns(acc, t);
    }
    _mm256_storeu_ps(s, acc);
    return j;
}
#endif

void hone_square_sums(const float *x, size_t rows, size_t c, float *sums) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
#ifdef HONE_X86
    if (rows == 8 && hone_fastmath_simd()) j = square_sums8_avx2(x, c, s);
#endif
    for (; j < c; j++) {
        for (size_t k = 0; k < rows; k++) {
            float v = x[k * c + j];
            s[k] += v * v;
        }
    }
    for (size_t k = 0; k < rows; k++) sums[k] = s[k];
}

void hone_scaled_dots(const float *dy, const float *x, const float *w, const float *r, size_t rows, size_t c, float *dots) {
    float s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t j = 0;
#ifdef HONE_X86
    if (rows == 8 && hone_fastmath_simd()) j = scaled_dots8_avx2(dy, x, w, r, c, s);
#endif
    for (; j < c; j++) {
        for (size_t k = 0; k < rows; k++) s[k] += dy[k * c + j] * w[j] * x[k * c + j] * r[k];
    }
    for (size_t k = 0; k < rows; k++) dots[k] = s[k];
}
