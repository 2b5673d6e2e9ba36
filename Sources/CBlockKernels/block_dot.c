// Products of GGML block matrices (Q8_0, Q4_0, Q4_1) with fp32 vectors, for generation: a
// token's pass through the decoder reads every weight once, and reading 5 bits a weight instead
// of 32 is what makes it fast. Swift builds for baseline x86-64 (SSE2, no FMA) and has no
// per-function target features, so this one kernel is C: an AVX2 path chosen at run time, and a
// portable path doing the same arithmetic lane by lane (integer sums are exact; fmaf is fused
// like vfmadd), so the two give the same bits.
#include "CBlockKernels.h"

#include <float.h>
#include <math.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define HONE_X86 1
#endif

enum { LANES = 8, BLOCK = 32, GROUP = 4 };

static float half_to_float(uint16_t h) {
    uint32_t sign = (uint32_t)(h & 0x8000) << 16, exp = (h >> 10) & 0x1F, mant = h & 0x3FF, bits;
    if (exp == 0x1F) {
        bits = sign | 0x7F800000 | (mant << 13);
    } else if (exp != 0) {
        bits = sign | ((exp + 112) << 23) | (mant << 13);
    } else if (mant == 0) {
        bits = sign;
    } else {  // subnormal: normalise
        uint32_t e = 113;
        while ((mant & 0x400) == 0) { mant <<= 1; e--; }
        bits = sign | (e << 23) | ((mant & 0x3FF) << 13);
    }
    float f;
    memcpy(&f, &bits, 4);
    return f;
}

static uint16_t load_u16(const uint8_t *p) { return (uint16_t)(p[0] | p[1] << 8); }

size_t hone_block_bytes(int format) { return format == HONE_Q8_0 ? 34 : format == HONE_Q4_0 ? 18 : 20; }

static size_t code_bytes(int format) { return format == HONE_Q8_0 ? 32 : 16; }

/// Bytes before the codes of a block: fp16 scale (and min) per block.
static size_t head_bytes(int format) { return format == HONE_Q4_1 ? 4 : 2; }

/// Where row r's group starts in the packed matrix, and how many rows the group holds.
static size_t group_start(int format, size_t r, size_t rows, size_t blocks, size_t *n) {
    const size_t g = r / GROUP;
    *n = rows - g * GROUP < GROUP ? rows - g * GROUP : GROUP;
    return g * GROUP * blocks * hone_block_bytes(format);
}

/// Where block b of row k, in a group of n rows, keeps its fp16 scale, its fp16 min (Q4_1) and
/// its code bytes, `step` apart. Q4 blocks go in pairs (b, b + 1) whose code bytes interleave, so
/// each 16-bit word holds four values of one row: j and j + 16 of both blocks. A pair's chunk:
/// the n scales (and mins) of b, those of b + 1, then each row's 32 interleaved code bytes. A
/// lone last block, and every Q8_0 block: the n scales (and mins), then each row's codes.
typedef struct { uint8_t *scale, *min, *codes; size_t step; } BlockPlace;

static BlockPlace place(int format, const uint8_t *group, size_t n, size_t k, size_t b, size_t blocks) {
    const size_t bb = hone_block_bytes(format), hb = head_bytes(format), cb = code_bytes(format);
    uint8_t *g = (uint8_t *)group;
    if (format != HONE_Q8_0 && (b | 1) < blocks) {
        uint8_t *chunk = g + (b & ~(size_t)1) * n * bb, *head = chunk + (b & 1) * n * hb;
        return (BlockPlace){head + 2 * k, head + 2 * n + 2 * k, chunk + 2 * n * hb + k * 2 * cb + (b & 1), 2};
    }
    uint8_t *chunk = g + b * n * bb;
    return (BlockPlace){chunk + 2 * k, chunk + 2 * n + 2 * k, chunk + n * hb + k * cb, 1};
}

void hone_block_pack(int format, const uint8_t *blocks, size_t rows, size_t columns, uint8_t *packed) {
    const size_t nb = columns / BLOCK, bb = hone_block_bytes(format), cb = code_bytes(format), hb = head_bytes(format);
    for (size_t r = 0; r < rows; r++) {
        size_t n;
        const uint8_t *group = packed + group_start(format, r, rows, nb, &n);
        for (size_t b = 0; b < nb; b++) {
            const uint8_t *src = blocks + (r * nb + b) * bb;
            const BlockPlace at = place(format, group, n, r % GROUP, b, nb);
            memcpy(at.scale, src, 2);
            if (format == HONE_Q4_1) memcpy(at.min, src + 2, 2);
            for (size_t j = 0; j < cb; j++) at.codes[j * at.step] = src[hb + j];
        }
    }
}

/// One body, compiled twice: plain, and for AVX2 (where clang inlines roundf instead of calling
/// libm; the same IEEE operations, so the same bits).
#define QUANTIZE_INPUT_BODY                                                             \
    for (size_t b = 0; b < columns / BLOCK; b++) {                                      \
        const float *v = x + b * BLOCK;                                                 \
        float amax = 0, s = 0;                                                          \
        for (int j = 0; j < BLOCK; j++) { amax = fmaxf(amax, fabsf(v[j])); s += v[j]; } \
        /* A scale below FLT_MIN would make 1/d infinite: such a block counts as zeros. */ \
        const float d = amax / 32767 >= FLT_MIN ? amax / 32767 : 0, id = d != 0 ? 1 / d : 0; \
        for (int j = 0; j < BLOCK; j++) {                                               \
            float r = roundf(v[j] * id);                                                \
            xq[b * BLOCK + j] = (int16_t)(r != r ? 0 : r > 32767 ? 32767 : r < -32767 ? -32767 : r); \
        }                                                                               \
        dx[b] = d;                                                                      \
        sums[b] = s;                                                                    \
    }

static void quantize_input_portable(const float *x, size_t columns, int16_t *xq, float *dx, float *sums) { QUANTIZE_INPUT_BODY }

/// The 32 codes of one block as integers (Q4_0's offset of 8 taken off).
static void decode_codes(int format, const uint8_t *c, size_t step, int32_t q[BLOCK]) {
    if (format == HONE_Q8_0) {
        for (int j = 0; j < BLOCK; j++) q[j] = (int8_t)c[j * step];
        return;
    }
    const int32_t off = format == HONE_Q4_0 ? 8 : 0;
    for (int j = 0; j < 16; j++) {
        q[j] = (int32_t)(c[j * step] & 0xF) - off;
        q[j + 16] = (int32_t)(c[j * step] >> 4) - off;
    }
}

/// How both paths finish a row: lanes paired (0+4, 1+5, 2+6, 3+7), pairs of pairs, then the
/// min terms.
static float finish(const float acc[LANES], float mins) {
    float a0 = acc[0] + acc[4], a1 = acc[1] + acc[5], a2 = acc[2] + acc[6], a3 = acc[3] + acc[7];
    return ((a0 + a2) + (a1 + a3)) + mins;
}

/// Row k of a group of n rows. Lane l of a block holds the exact integer Σ q·xq over values
/// 2l, 2l+1, 16+2l and 17+2l (what AVX2's two madds over the block's halves, added, give),
/// scaled by d·dx into its fp32 accumulator; Q4_1's mins are summed block after block.
static float row_dot_portable(int format, const uint8_t *group, size_t n, size_t k, size_t blocks,
                              const int16_t *xq, const float *dx, const float *sums) {
    float acc[LANES] = {0}, mins = 0;
    int32_t q[BLOCK];
    for (size_t b = 0; b < blocks; b++) {
        const BlockPlace at = place(format, group, n, k, b, blocks);
        decode_codes(format, at.codes, at.step, q);
        const int16_t *xb = xq + b * BLOCK;
        const float scale = half_to_float(load_u16(at.scale)) * dx[b];
        for (int l = 0; l < LANES; l++) {
            const int32_t s = (q[2 * l] * xb[2 * l] + q[2 * l + 1] * xb[2 * l + 1]) + (q[16 + 2 * l] * xb[16 + 2 * l] + q[17 + 2 * l] * xb[17 + 2 * l]);
            acc[l] = fmaf(scale, (float)s, acc[l]);
        }
        if (format == HONE_Q4_1) mins = fmaf(half_to_float(load_u16(at.min)), sums[b], mins);
    }
    return finish(acc, mins);
}

#ifdef HONE_X86
#define SIMD __attribute__((target("avx2,fma,f16c")))
#define INLINE static inline __attribute__((always_inline))

/// Lane l: Σ of code·xq over values 2l, 2l+1, 16+2l, 17+2l of one block (codes at c), each
/// half of the block widened to 16 int16 and multiplied-and-paired by madd.
SIMD INLINE __m256 block_lanes(int format, const uint8_t *c, __m256i x_lo, __m256i x_hi) {
    __m256i lo, hi;
    if (format == HONE_Q8_0) {
        lo = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)c));
        hi = _mm256_cvtepi8_epi16(_mm_loadu_si128((const __m128i *)(c + 16)));
    } else {
        // Each byte widened to 16 bits holds value j in its low nibble and j + 16 above it.
        const __m256i bytes = _mm256_cvtepu8_epi16(_mm_loadu_si128((const __m128i *)c));
        lo = _mm256_and_si256(bytes, _mm256_set1_epi16(0x0F));
        hi = _mm256_srli_epi16(bytes, 4);
        if (format == HONE_Q4_0) {
            const __m256i eight = _mm256_set1_epi16(8);
            lo = _mm256_sub_epi16(lo, eight);
            hi = _mm256_sub_epi16(hi, eight);
        }
    }
    return _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_madd_epi16(lo, x_lo), _mm256_madd_epi16(hi, x_hi)));
}

/// Lanes of two paired Q4 blocks from one row's 32 interleaved code bytes at c: each 16-bit
/// word holds values j and j + 16 of the first block in its low byte, of the second in its high
/// byte, so four masks and shifts give all 64 values as int16 (no widening).
SIMD INLINE void pair_lanes(int format, const uint8_t *c, const __m256i x[4], __m256 *first, __m256 *second) {
    const __m256i w = _mm256_loadu_si256((const __m256i *)c), low4 = _mm256_set1_epi16(0x0F);
    __m256i a = _mm256_and_si256(w, low4), b = _mm256_and_si256(_mm256_srli_epi16(w, 4), low4);
    __m256i c2 = _mm256_and_si256(_mm256_srli_epi16(w, 8), low4), d = _mm256_srli_epi16(w, 12);
    if (format == HONE_Q4_0) {
        const __m256i eight = _mm256_set1_epi16(8);
        a = _mm256_sub_epi16(a, eight); b = _mm256_sub_epi16(b, eight);
        c2 = _mm256_sub_epi16(c2, eight); d = _mm256_sub_epi16(d, eight);
    }
    *first = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_madd_epi16(a, x[0]), _mm256_madd_epi16(b, x[1])));
    *second = _mm256_cvtepi32_ps(_mm256_add_epi32(_mm256_madd_epi16(c2, x[2]), _mm256_madd_epi16(d, x[3])));
}

/// A full group of 4 rows, each with its own accumulator (independent chains for the core to
/// overlap; each input block loaded once), and each with the same arithmetic as alone: the
/// four scales are converted and multiplied by dx in one instruction each, and the four mins
/// accumulate in the lanes of one register. Q4 blocks go two at a time (see place()).
SIMD INLINE void group_dot_avx2_of(int format, const uint8_t *group, size_t blocks, const int16_t *xq, const float *dx,
                                   const float *sums, float *out) {
    __m256 acc[GROUP];
    __m128 mins = _mm_setzero_ps();
    const size_t bb = hone_block_bytes(format), cb = code_bytes(format), hb = head_bytes(format);
    for (int k = 0; k < GROUP; k++) acc[k] = _mm256_setzero_ps();
    size_t b = 0;
    if (format != HONE_Q8_0) {
        for (; b + 1 < blocks; b += 2) {
            const uint8_t *chunk = group + b * GROUP * bb, *h0 = chunk, *h1 = chunk + GROUP * hb, *codes = chunk + 2 * GROUP * hb;
            __m256i x[4];
            for (int i = 0; i < 4; i++) x[i] = _mm256_loadu_si256((const __m256i *)(xq + b * BLOCK + 16 * i));
            float s0[GROUP], s1[GROUP];
            _mm_storeu_ps(s0, _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)h0)), _mm_set1_ps(dx[b])));
            _mm_storeu_ps(s1, _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)h1)), _mm_set1_ps(dx[b + 1])));
            if (format == HONE_Q4_1) {
                mins = _mm_fmadd_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(h0 + 2 * GROUP))), _mm_set1_ps(sums[b]), mins);
                mins = _mm_fmadd_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(h1 + 2 * GROUP))), _mm_set1_ps(sums[b + 1]), mins);
            }
            for (int k = 0; k < GROUP; k++) {
                __m256 first, second;
                pair_lanes(format, codes + k * 2 * cb, x, &first, &second);
                acc[k] = _mm256_fmadd_ps(_mm256_broadcast_ss(s0 + k), first, acc[k]);
                acc[k] = _mm256_fmadd_ps(_mm256_broadcast_ss(s1 + k), second, acc[k]);
            }
        }
    }
    for (; b < blocks; b++) {
        const uint8_t *p = group + b * GROUP * bb;
        const __m256i x_lo = _mm256_loadu_si256((const __m256i *)(xq + b * BLOCK));
        const __m256i x_hi = _mm256_loadu_si256((const __m256i *)(xq + b * BLOCK + 16));
        float scales[GROUP];
        _mm_storeu_ps(scales, _mm_mul_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)p)), _mm_set1_ps(dx[b])));
        if (format == HONE_Q4_1) {
            mins = _mm_fmadd_ps(_mm_cvtph_ps(_mm_loadl_epi64((const __m128i *)(p + 2 * GROUP))), _mm_set1_ps(sums[b]), mins);
        }
        for (int k = 0; k < GROUP; k++) {
            acc[k] = _mm256_fmadd_ps(_mm256_broadcast_ss(scales + k), block_lanes(format, p + hb * GROUP + k * cb, x_lo, x_hi), acc[k]);
        }
    }
    float m[GROUP];
    _mm_storeu_ps(m, mins);
    for (int k = 0; k < GROUP; k++) {
        float lanes[LANES];
        _mm256_storeu_ps(lanes, acc[k]);
        out[k] = finish(lanes, m[k]);
    }
}

/// One copy per format, so each is compiled with its format known.
SIMD static void group_dot_avx2(int format, const uint8_t *group, size_t blocks, const int16_t *xq, const float *dx,
                                const float *sums, float *out) {
    switch (format) {
    case HONE_Q8_0: group_dot_avx2_of(HONE_Q8_0, group, blocks, xq, dx, sums, out); break;
    case HONE_Q4_0: group_dot_avx2_of(HONE_Q4_0, group, blocks, xq, dx, sums, out); break;
    default: group_dot_avx2_of(HONE_Q4_1, group, blocks, xq, dx, sums, out); break;
    }
}

SIMD static void quantize_input_avx2(const float *x, size_t columns, int16_t *xq, float *dx, float *sums) { QUANTIZE_INPUT_BODY }

static int simd_available(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") && __builtin_cpu_supports("f16c");
    }
    return cached;
}
#else
static int simd_available(void) { return 0; }
#endif

int hone_block_kernels_simd(void) { return simd_available(); }

void hone_quantize_input(const float *x, size_t columns, int16_t *xq, float *dx, float *sums) {
#ifdef HONE_X86
    if (simd_available()) { quantize_input_avx2(x, columns, xq, dx, sums); return; }
#endif
    quantize_input_portable(x, columns, xq, dx, sums);
}

void hone_block_rows_dot(int format, const uint8_t *packed, size_t rows, size_t row_begin, size_t row_end, size_t columns,
                         const int16_t *xq, const float *dx, const float *sums, size_t inputs, float *out, size_t out_stride,
                         int simd) {
    const size_t nb = columns / BLOCK;
    simd = simd && simd_available();
    for (size_t i = 0; i < inputs; i++) {
        const int16_t *xqi = xq + i * columns;
        const float *dxi = dx + i * nb, *si = sums + i * nb;
        float *oi = out + i * out_stride;
        for (size_t g = row_begin; g < row_end; g += GROUP) {
            size_t n;
            const uint8_t *group = packed + group_start(format, g, rows, nb, &n);
#ifdef HONE_X86
            if (simd && n == GROUP) {
                group_dot_avx2(format, group, nb, xqi, dxi, si, oi + g);
                continue;
            }
#endif
            for (size_t k = 0; k < n; k++) oi[g + k] = row_dot_portable(format, group, n, k, nb, xqi, dxi, si);
        }
    }
}
