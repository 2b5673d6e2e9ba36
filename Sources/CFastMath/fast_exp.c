// The exponential of softmax (the cross-entropy over the vocabulary, attention) and of SiLU, and
// SwiGLU's backward, which takes σ again rather than read it back from memory.
// Swift builds for baseline x86-64, so its eight-lane vectors ran as pairs of SSE operations;
// here the same arithmetic runs as one AVX2 operation when the CPU has it (chosen at run time),
// else lane by lane in portable C. Neither fuses a multiply and an add, and both do each
// element's operations in the same order, so the two paths give the same bits.
#include "CFastMath.h"
#include "simd.h"

#include <stdatomic.h>
#include <stdint.h>
#include <string.h>

#pragma STDC FP_CONTRACT OFF

#if defined(__x86_64__) && (defined(__clang__) || defined(__GNUC__))
#include <immintrin.h>
#define HONE_X86 1
#endif

#define LOG2E 1.44269504f
#define LN2_HI 0.693359375f
#define LN2_LO -2.1219444e-4f
#define HIGH 88.3f
#define LOW -87.3f
#define MAGIC 12582912.0f  // 1.5·2²³: adding it rounds to an integer left in the low mantissa bits

static float exp_one(float x) {
    if (!(x <= HIGH)) x = HIGH;  // NaN too
    if (x < LOW) x = LOW;
    float k = x * LOG2E + MAGIC;
    float n = k - MAGIC;
    float r = x - n * LN2_HI - n * LN2_LO;
    float p = 1.9875691e-4f;
    p = p * r + 1.3981999e-3f;
    p = p * r + 8.333452e-3f;
    p = p * r + 4.1665796e-2f;
    p = p * r + 1.6666665e-1f;
    p = p * r + 0.5f;
    p = p * r * r + r + 1.0f;
    int32_t kb;
    memcpy(&kb, &k, 4);
    uint32_t bits = (uint32_t)(kb - 0x4B400000 + 127) << 23;
    float scale;
    memcpy(&scale, &bits, 4);
    return p * scale;
}

// The end of both paths: the eight lanes' sums added onto −0 in order, then the tail from i.
static float lanes_then_tail(const float acc[8], const float *x, float *y, size_t i, size_t n, float shift) {
    float sum = -0.0f;
    for (int j = 0; j < 8; j++) sum += acc[j];
    for (; i < n; i++) {
        float e = exp_one(x[i] - shift);
        y[i] = e;
        sum += e;
    }
    return sum;
}

static float exp_shifted_portable(const float *x, float *y, size_t n, float shift) {
    float acc[8] = {0, 0, 0, 0, 0, 0, 0, 0};
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        for (int j = 0; j < 8; j++) {
            float e = exp_one(x[i + j] - shift);
            y[i + j] = e;
            acc[j] += e;
        }
    return lanes_then_tail(acc, x, y, i, n, shift);
}

static float sigmoid_one(float x) { return 1.0f / (1.0f + exp_one(-x)); }

static void silu_one(const float *x, const float *times, float *sigmoid, float *out, size_t i) {
    float s = sigmoid_one(x[i]);
    if (sigmoid) sigmoid[i] = s;
    float v = x[i] * s;
    if (times) v *= times[i];
    out[i] = v;
}

#ifdef HONE_X86
#define SIMD __attribute__((target("avx2")))

SIMD static __m256 exp8(__m256 x) {
    x = _mm256_blendv_ps(x, _mm256_set1_ps(HIGH), _mm256_cmp_ps(x, _mm256_set1_ps(HIGH), _CMP_NLE_UQ));
    x = _mm256_blendv_ps(x, _mm256_set1_ps(LOW), _mm256_cmp_ps(x, _mm256_set1_ps(LOW), _CMP_LT_OQ));
    __m256 magic = _mm256_set1_ps(MAGIC);
    __m256 k = _mm256_add_ps(_mm256_mul_ps(x, _mm256_set1_ps(LOG2E)), magic);
    __m256 n = _mm256_sub_ps(k, magic);
    __m256 r = _mm256_sub_ps(_mm256_sub_ps(x, _mm256_mul_ps(n, _mm256_set1_ps(LN2_HI))), _mm256_mul_ps(n, _mm256_set1_ps(LN2_LO)));
    __m256 p = _mm256_set1_ps(1.9875691e-4f);
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.3981999e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(8.333452e-3f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(4.1665796e-2f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(1.6666665e-1f));
    p = _mm256_add_ps(_mm256_mul_ps(p, r), _mm256_set1_ps(0.5f));
    p = _mm256_add_ps(_mm256_add_ps(_mm256_mul_ps(_mm256_mul_ps(p, r), r), r), _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_sub_epi32(_mm256_castps_si256(k), _mm256_set1_epi32(0x4B400000)),
                                                      _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

SIMD static float exp_shifted_avx2(const float *x, float *y, size_t n, float shift) {
    __m256 acc = _mm256_setzero_ps(), s = _mm256_set1_ps(shift);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 e = exp8(_mm256_sub_ps(_mm256_loadu_ps(x + i), s));
        _mm256_storeu_ps(y + i, e);
        acc = _mm256_add_ps(acc, e);
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, acc);
    return lanes_then_tail(lanes, x, y, i, n, shift);
}

SIMD static __m256 sigmoid8(__m256 x) {
    __m256 one = _mm256_set1_ps(1.0f);
    return _mm256_div_ps(one, _mm256_add_ps(one, exp8(_mm256_xor_ps(x, _mm256_set1_ps(-0.0f)))));
}

SIMD static void silu_avx2(const float *x, const float *times, float *sigmoid, float *out, size_t n) {
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        __m256 s = sigmoid8(v);
        if (sigmoid) _mm256_storeu_ps(sigmoid + i, s);
        __m256 o = _mm256_mul_ps(v, s);
        if (times) o = _mm256_mul_ps(o, _mm256_loadu_ps(times + i));
        _mm256_storeu_ps(out + i, o);
    }
    for (; i < n; i++) silu_one(x, times, sigmoid, out, i);
}

SIMD static size_t swiglu_backward_avx2(const float *gate, const float *up, const float *dh, float *dgate, float *dup, size_t n) {
    __m256 one = _mm256_set1_ps(1.0f);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 a = _mm256_loadu_ps(gate + i), b = _mm256_loadu_ps(up + i), d = _mm256_loadu_ps(dh + i), s = sigmoid8(a);
        _mm256_storeu_ps(dup + i, _mm256_mul_ps(_mm256_mul_ps(d, a), s));
        __m256 slope = _mm256_add_ps(one, _mm256_mul_ps(a, _mm256_sub_ps(one, s)));
        _mm256_storeu_ps(dgate + i, _mm256_mul_ps(_mm256_mul_ps(_mm256_mul_ps(d, b), s), slope));
    }
    return i;
}

static atomic_int allowed = 1;

int hone_fastmath_simd(void) {
    static int cached = -1;
    if (cached < 0) {
        __builtin_cpu_init();
        cached = __builtin_cpu_supports("avx2") ? 1 : 0;
    }
    return cached && allowed;
}
#else
static atomic_int allowed = 1;
int hone_fastmath_simd(void) { return 0; }
#endif

void hone_fastmath_allow_simd(int allow) { allowed = allow; }

float hone_exp_shifted(const float *x, float *y, size_t n, float shift) {
#ifdef HONE_X86
    if (hone_fastmath_simd()) return exp_shifted_avx2(x, y, n, shift);
#endif
    return exp_shifted_portable(x, y, n, shift);
}

void hone_silu(const float *x, const float *times, float *sigmoid, float *out, size_t n) {
#ifdef HONE_X86
    if (hone_fastmath_simd()) {
        silu_avx2(x, times, sigmoid, out, n);
        return;
    }
#endif
    for (size_t i = 0; i < n; i++) silu_one(x, times, sigmoid, out, i);
}

void hone_swiglu_backward(const float *gate, const float *up, const float *dh, float *dgate, float *dup, size_t n) {
    size_t i = 0;
#ifdef HONE_X86
    if (hone_fastmath_simd()) i = swiglu_backward_avx2(gate, up, dh, dgate, dup, n);
#endif
    for (; i < n; i++) {
        float a = gate[i], s = sigmoid_one(a);
        dup[i] = dh[i] * a * s;
        dgate[i] = dh[i] * up[i] * s * (1.0f + a * (1.0f - s));
    }
}
